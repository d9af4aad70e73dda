// chain: calls another function of the same application through kindling.call, as a pipeline
// stage calls the next one. The first line of the body is "<function> [times]", the rest is the
// body for that function (default: "echo" with "hello"). It answers with the callee's response;
// with times > 1 it calls the callee that many times (benchmarks use this to time one chained call).
//
// kindling.call runs the callee synchronously in the same app host (or the gateway, for inline),
// with fresh state and the caller's deadline; only functions of the same application are found.

@external("kindling", "call")
declare function kindling_call(namePtr: usize, nameLen: i32, bodyPtr: usize, bodyLen: i32, outPtr: usize, outCap: i32, outLenPtr: usize): i32

@external("kindling", "result_read")
declare function kindling_result_read(ptr: usize, offset: i32, len: i32): i32

const OUT_CAP: i32 = 4096

/** Calls a function of this application; returns its status and fills `response`. */
export function callFunction(name: string, body: ArrayBuffer, response: Array<ArrayBuffer>): i32 {
  const nameBytes = String.UTF8.encode(name)
  const out = new ArrayBuffer(OUT_CAP)
  const outLen = new ArrayBuffer(4)
  const status = kindling_call(changetype<usize>(nameBytes), nameBytes.byteLength, changetype<usize>(body), body.byteLength, changetype<usize>(out), OUT_CAP, changetype<usize>(outLen))
  if (status < 0) return status
  const len = load<i32>(changetype<usize>(outLen))
  if (len <= OUT_CAP) {
    response.push(out.slice(0, len))
  } else {
    const all = new ArrayBuffer(len)
    kindling_result_read(changetype<usize>(all), 0, len)
    response.push(all)
  }
  return status
}

export function handle(body: string): string {
  const nl = body.indexOf('\n')
  const head = (nl < 0 ? body : body.slice(0, nl)).trim()
  const arg = nl < 0 ? 'hello' : body.slice(nl + 1)
  const words = head.split(' ')
  const name = head.length ? words[0] : 'echo'
  const times = words.length > 1 ? I32.parseInt(words[1]) : 1
  const input = String.UTF8.encode(arg)
  const response = new Array<ArrayBuffer>()
  let status: i32 = 0
  for (let i: i32 = 0; i < times; i++) {
    response.length = 0
    status = callFunction(name, input, response)
    if (status < 0) return 'kindling.call failed with ' + status.toString() + '\n'
  }
  return String.UTF8.decode(response[0])
}
