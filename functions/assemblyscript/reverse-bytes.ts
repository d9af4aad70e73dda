// reverse-bytes: the handleBytes form of the contract. Returns the request body's bytes reversed.
export function handleBytes(body: ArrayBuffer): ArrayBuffer {
  const input = Uint8Array.wrap(body)
  const out = new Uint8Array(input.length)
  for (let i = 0; i < input.length; i++) out[i] = input[input.length - 1 - i]
  return out.buffer
}
