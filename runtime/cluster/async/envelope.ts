// A call as one NATS message: a 4-byte length, the call's JSON (function, path, query, headers,
// callback) and then its body. A body that would not fit in the server's max_payload goes into the
// object store under the call id instead (the message says so), so that KINDLING_MAX_BODY_BYTES,
// not NATS, bounds what a caller may send.
import type { NewCall } from '../../async/store.js'

export interface CallEnvelope extends Omit<NewCall, 'body'> {
  /** the body is in the object store (BODIES_BUCKET) under the call id */
  bodyInStore: boolean
}

/** Room left in a message for the envelope's JSON and the protocol's own headers. */
const MARGIN = 16 * 1024

export function bodyFits(bodyBytes: number, maxPayload: number): boolean {
  return bodyBytes + MARGIN <= maxPayload
}

export function encodeCall(call: NewCall, bodyInStore: boolean): Uint8Array {
  const { body, ...rest } = call
  const json = Buffer.from(JSON.stringify({ ...rest, bodyInStore } satisfies CallEnvelope))
  const len = Buffer.alloc(4)
  len.writeUInt32BE(json.length)
  return Buffer.concat([len, json, bodyInStore ? Buffer.alloc(0) : body])
}

export function decodeCall(data: Uint8Array): { envelope: CallEnvelope; body: Buffer } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const n = b.readUInt32BE(0)
  return { envelope: JSON.parse(b.subarray(4, 4 + n).toString()) as CallEnvelope, body: Buffer.from(b.subarray(4 + n)) }
}
