// The worker's side of a call placed on it by a gateway: checks the frame, runs it through the local
// dispatcher (so the pool's queue, scale and timeout limits apply as to any call), stops it when the
// gateway cancels or its time budget runs out, and answers with a frame. Both transports end here.
import { asKindlingError, KindlingError } from '../../errors.js'
import { FUNCTION_METHODS } from '../../gateway/routes/invoke.js'
import type { Dispatcher } from '../../pool/dispatcher.js'
import { type AnswerHead, type CallHead, requestOf } from './frame.js'

export interface WorkerDeps {
  dispatcher: Pick<Dispatcher, 'invokeKey'>
  nodeId: string
  maxBodyBytes: number
}

const METHODS = new Set<string>(FUNCTION_METHODS)

/** room for a frame's head beside the largest body (both transports) */
export const HEAD_ROOM = 256 * 1024

/** A head from the wire, checked field by field (the frame came from a node with the key, still). */
export function checkHead(h: unknown): CallHead {
  const o = h as Partial<CallHead> | null
  const bad = (what: string) => new KindlingError('KINDLING_ERR_BAD_REQUEST', `cluster call frame: bad ${what}`)
  if (!o || typeof o !== 'object') throw bad('head')
  if (typeof o.key !== 'string' || o.key.length > 200) throw bad('key')
  if (typeof o.callId !== 'string' || o.callId.length > 128) throw bad('callId')
  if (typeof o.method !== 'string' || !METHODS.has(o.method)) throw bad('method')
  if (typeof o.path !== 'string' || !o.path.startsWith('/')) throw bad('path')
  if (typeof o.query !== 'string') throw bad('query')
  if (!o.headers || typeof o.headers !== 'object') throw bad('headers')
  for (const v of Object.values(o.headers)) if (typeof v !== 'string') throw bad('header value')
  if (typeof o.budgetMs !== 'number' || !(o.budgetMs > 0)) throw bad('budgetMs')
  return o as CallHead
}

export async function runPlacedCall(deps: WorkerDeps, head: CallHead, body: Buffer, cancel: AbortSignal): Promise<{ head: AnswerHead; body: Buffer }> {
  const node = deps.nodeId
  const ac = new AbortController()
  let outOfTime = false
  const onCancel = () => ac.abort()
  cancel.addEventListener('abort', onCancel, { once: true })
  // the deadline the gateway gave: the call stops here even if the gateway is gone
  const timer = setTimeout(() => {
    outOfTime = true
    ac.abort()
  }, head.budgetMs)
  try {
    if (body.length > deps.maxBodyBytes) throw new KindlingError('KINDLING_ERR_PAYLOAD_TOO_LARGE', `the body is ${body.length} bytes, more than ${deps.maxBodyBytes}`)
    const r = await deps.dispatcher.invokeKey(head.key, requestOf(head, body), ac.signal)
    return { head: { status: r.status, headers: r.headers, errorCode: r.errorCode, node }, body: r.body }
  } catch (e) {
    const k = outOfTime ? new KindlingError('KINDLING_ERR_TIMEOUT', `call ${head.callId} ran out of its time budget on worker ${node}`) : asKindlingError(e)
    return { head: { status: k.status, headers: {}, errorCode: k.code, message: k.message, node }, body: Buffer.alloc(0) }
  } finally {
    clearTimeout(timer)
    cancel.removeEventListener('abort', onCancel)
  }
}
