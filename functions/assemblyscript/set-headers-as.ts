// set-headers: an AssemblyScript handler that sets headers of its answer through the kindling
// import kindling.response_header_set (isolation/wasm/host/response-headers.ts). Each request body
// line "Name: value" becomes a header; the body answers "name -> 0" per line, or the negative code
// that refused it (-2 bad name, -3 CR/LF in the value, -4 a header kindling sets itself, -5 too many).

@external("kindling", "response_header_set")
declare function response_header_set(namePtr: usize, nameLen: i32, valuePtr: usize, valueLen: i32): i32

export function handle(body: string): string {
  const lines = body.split('\n')
  let out = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = String.UTF8.encode(line.slice(0, colon))
    const value = String.UTF8.encode(line.slice(colon + 1).trimStart())
    const code = response_header_set(changetype<usize>(name), name.byteLength, changetype<usize>(value), value.byteLength)
    out += line.slice(0, colon) + ' -> ' + code.toString() + '\n'
  }
  return out
}
