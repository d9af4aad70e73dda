// The bytes of a call between a gateway and a worker, the same on both transports: a 4-byte length,
// a JSON head (the call's method, path, query and headers, or the answer's status and headers),
// then the body as it is. No base64, one copy.
import type { CallRequest, InvokeResult } from '../../pool/dispatcher.js'
import type { ErrorCode } from '../../errors.js'

export interface CallHead {
  /** name.namespace */
  key: string
  callId: string
  method: string
  path: string
  query: string
  headers: Record<string, string>
  /** what is left of the call's time budget when it was sent (ms); the worker stops it after that */
  budgetMs: number
}

export interface AnswerHead {
  status: number
  headers: InvokeResult['headers']
  errorCode?: ErrorCode
  /** a KindlingError thrown before the call ran (not found, overloaded): its message */
  message?: string
  /** the node that ran the call */
  node: string
}

export function encodeFrame(head: object, body: Uint8Array): Buffer {
  const h = Buffer.from(JSON.stringify(head))
  const out = Buffer.allocUnsafe(4 + h.length + body.length)
  out.writeUInt32BE(h.length, 0)
  h.copy(out, 4)
  out.set(body, 4 + h.length)
  return out
}

export function decodeFrame<H>(buf: Uint8Array): { head: H; body: Buffer } {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (b.length < 4) throw new Error('short frame')
  const n = b.readUInt32BE(0)
  if (4 + n > b.length) throw new Error('frame head runs past its end')
  return { head: JSON.parse(b.subarray(4, 4 + n).toString('utf8')) as H, body: b.subarray(4 + n) }
}

export function callHead(key: string, req: CallRequest, budgetMs: number): CallHead {
  return { key, callId: req.callId, method: req.method, path: req.path, query: req.query, headers: req.headers, budgetMs }
}

export function requestOf(head: CallHead, body: Buffer): CallRequest {
  return { callId: head.callId, method: head.method, path: head.path, query: head.query, headers: head.headers, body }
}
