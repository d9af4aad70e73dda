// Outbound HTTP for WebAssembly modules (WASI commands, C, AssemblyScript): the `kindling` imports
// below, denied unless the function's com.kindling.outbound annotation grants the URL.
//
//   kindling.http_request(method_ptr, method_len, url_ptr, url_len, headers_ptr, headers_len,
//                         body_ptr, body_len, out_len_ptr) -> status
//     Makes one request: method ("GET"; empty is GET), absolute http(s) URL, headers as UTF-8
//     "Name: value" lines separated by \n (may be empty), body bytes (may be empty). Returns the
//     HTTP status and writes the response body's length (u32) to out_len_ptr; or returns a
//     negative OUTBOUND_ERROR (-1 denied, -2 bad arguments, -3 invalid URL, -4 response too large,
//     -5 failed: DNS, connection, TLS, too many redirects; -6 timed out, when the call's deadline
//     did not end the call first; -7 request body larger than KINDLING_OUTBOUND_MAX_REQUEST_BYTES)
//     and writes the length of a message that
//     starts with the kindling error code (KINDLING_ERR_OUTBOUND_DENIED: ...).
//   kindling.http_response_read(ptr, offset, len) -> copied
//     Copies bytes of the last response body (or error message) from `offset` on.
//
// A synchronous wasm call cannot await a promise, so the import blocks: a helper thread
// (outbound-worker.ts) makes the request while this thread waits (blocking-thread.ts), in slices, so
// that the call's deadline and a cancel still end the call while it waits.
import { siblingModule } from '../../entry.js'
import { BlockingThread } from './blocking-thread.js'
import { inBounds, readRest } from '../guest-memory.js'
import type { OutboundPolicy, OutboundRequest, OutboundResponse } from './outbound-fetch.js'
import { DEFAULT_MAX_REQUEST_BYTES, OUTBOUND_ERROR, OUTBOUND_ERROR_CODES } from './outbound-fetch.js'
import type { ChainHop } from '../../tier.js'
import { childTrace } from '../../trace-child.js'
import type { OutboundPattern } from './outbound-grants.js'
import type { OutboundTask } from './outbound-worker.js'

export const OUTBOUND_IMPORT_NAMES: ReadonlySet<string> = new Set(['http_request', 'http_response_read'])
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

/** The outbound part of a plan: what the function may reach and how much it may read back. */
export interface OutboundPlan {
  patterns: OutboundPattern[]
  maxResponseBytes: number
  /** largest request body it may send (undefined: DEFAULT_MAX_REQUEST_BYTES) */
  maxRequestBytes?: number
}

/** The helper thread of this thread, started on the first request (one per thread, never per call). */
class OutboundHelper {
  readonly thread = new BlockingThread<Omit<Extract<OutboundTask, { op: 'fetch' }>, 'id' | 'flag'>, OutboundResponse>(siblingModule(import.meta.url, 'outbound-worker'), LOAD_FAILED)

  /**
   * Blocks until the response is there. `check` runs between slices and throws to end the wait
   * (deadline, cancel); the request is then aborted in the helper.
   */
  request(req: OutboundRequest, policy: OutboundPolicy, check: () => void): OutboundResponse {
    return this.thread.call({ op: 'fetch', req, policy }, check, Infinity, (id) => this.thread.post({ op: 'abort', id } satisfies OutboundTask))!
  }
}

let helper: OutboundHelper | undefined

/** what a helper whose module did not load does: answers every request with FAILED, never leaves a call waiting */
const LOAD_FAILED = `(e) => {
  const { parentPort, workerData } = require('node:worker_threads')
  parentPort.on('message', (t) => {
    if (t.op !== 'fetch') return
    workerData.replies.postMessage({ id: t.id, res: { ok: false, error: 'FAILED', message: 'KINDLING_ERR_OUTBOUND_FAILED: the outbound helper thread did not start: ' + e.message } })
    Atomics.store(t.flag, 0, 1)
    Atomics.notify(t.flag, 0)
  })
}`

export interface OutboundImports {
  imports: Record<string, (...args: number[]) => number>
  /** forgets the last response: nothing host-side outlives a call */
  endCall(): void
}

/**
 * Tracing (issue 13 item 6): the call's traceparent and where its client spans go. A traced call's
 * requests carry a traceparent that is a child of the call's span; kindling's header replaces any
 * traceparent the guest set (spans of kindling's trace are kindling's to name), while a call that is
 * not traced sends the guest's headers as they are.
 */
export interface OutboundTrace {
  traceparent(): string | undefined
  hop(h: ChainHop): void
}

/** One request made while this thread waits (modules' import and components' outgoing-handler). */
export function blockingOutbound(req: OutboundRequest, policy: OutboundPolicy, check: () => void, trace?: OutboundTrace): OutboundResponse {
  if (!helper?.thread.alive) helper = new OutboundHelper()
  const child = trace && childTrace(trace.traceparent())
  if (!child) return helper.request(req, policy, check)
  const headers: [string, string][] = req.headers.filter(([k]) => k.toLowerCase() !== 'traceparent')
  headers.push(['traceparent', child.traceparent])
  const startMs = Date.now()
  const t = performance.now()
  const res = helper.request({ ...req, headers }, policy, check)
  let host = ''
  let port = 0
  try {
    const u = new URL(req.url)
    host = u.hostname
    port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80
  } catch {
    // not a URL: the span still says the request failed
  }
  trace.hop({
    name: req.method.toUpperCase() || 'GET',
    spanId: child.spanId,
    parentSpanId: child.parentSpanId,
    startMs,
    durUs: (performance.now() - t) * 1000,
    status: res.ok ? res.status : OUTBOUND_ERROR[res.error],
    client: { host, port, ...(res.ok ? {} : { error: OUTBOUND_ERROR_CODES[res.error] }) },
  })
  return res
}

/**
 * The imports of one sandbox. `memory` and `deadline` give the current call's; `check` throws when
 * the call must end (deadline, cancel).
 */
export function outboundImports(plan: OutboundPlan | undefined, env: { memory(): WebAssembly.Memory | undefined; deadline(): number; check(): void; trace?: OutboundTrace }): OutboundImports {
  let last: Uint8Array | undefined
  const text = (bytes: Uint8Array, ptr: number, len: number) => Buffer.from(bytes.buffer, ptr, len).toString('utf8')
  const fail = (bytes: Uint8Array, outLenPtr: number, code: number, message: string) => {
    last = Buffer.from(message)
    new DataView(bytes.buffer).setUint32(outLenPtr, last.length, true)
    return code
  }
  const http_request = (mPtr: number, mLen: number, uPtr: number, uLen: number, hPtr: number, hLen: number, bPtr: number, bLen: number, outLenPtr: number): number => {
    last = undefined
    const memory = env.memory()
    if (!memory) return OUTBOUND_ERROR.BAD_ARGUMENTS
    let bytes = new Uint8Array(memory.buffer)
    if (![[mPtr, mLen], [uPtr, uLen], [hPtr, hLen], [bPtr, bLen], [outLenPtr, 4]].every(([p, l]) => inBounds(bytes, p!, l!))) return OUTBOUND_ERROR.BAD_ARGUMENTS
    const url = text(bytes, uPtr, uLen)
    if (!plan || plan.patterns.length === 0) return fail(bytes, outLenPtr, OUTBOUND_ERROR.DENIED, `KINDLING_ERR_OUTBOUND_DENIED: the function has no outbound grant (annotation com.kindling.outbound), so ${url} is refused`)
    // refused before the body is copied out of the guest's memory
    const maxRequest = plan.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES
    if (bLen > maxRequest) return fail(bytes, outLenPtr, OUTBOUND_ERROR.REQUEST_TOO_LARGE, `${OUTBOUND_ERROR_CODES.REQUEST_TOO_LARGE}: the request body (${bLen} bytes) is larger than KINDLING_OUTBOUND_MAX_REQUEST_BYTES (${maxRequest} bytes)`)
    const headers: [string, string][] = []
    for (const line of text(bytes, hPtr, hLen).split('\n')) {
      const i = line.indexOf(':')
      if (line.trim() === '') continue
      if (i <= 0) return fail(bytes, outLenPtr, OUTBOUND_ERROR.BAD_ARGUMENTS, `KINDLING_ERR_OUTBOUND_FAILED: header line ${JSON.stringify(line)} has no name`)
      headers.push([line.slice(0, i).trim(), line.slice(i + 1).trim()])
    }
    const req: OutboundRequest = { method: text(bytes, mPtr, mLen), url, headers, body: bytes.slice(bPtr, bPtr + bLen) }
    const res = blockingOutbound(req, { patterns: plan.patterns, maxResponseBytes: plan.maxResponseBytes, maxRequestBytes: maxRequest, deadline: env.deadline() }, env.check, env.trace)
    // the guest cannot have grown its memory while it waited, but take the buffer afresh anyway
    bytes = new Uint8Array(memory.buffer)
    if (!res.ok) {
      // the helper gave up at the deadline: end the call as every other overrun does
      if (res.error === 'TIMEOUT') env.check()
      return fail(bytes, outLenPtr, OUTBOUND_ERROR[res.error], res.message)
    }
    last = res.body
    new DataView(bytes.buffer).setUint32(outLenPtr, last.length, true)
    return res.status
  }
  const http_response_read = (ptr: number, offset: number, len: number): number => readRest(env.memory(), last, ptr, offset, len, OUTBOUND_ERROR.BAD_ARGUMENTS)
  return {
    imports: { http_request, http_response_read } as Record<string, (...args: number[]) => number>,
    endCall: () => {
      last = undefined
    },
  }
}
