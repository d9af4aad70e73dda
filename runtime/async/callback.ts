// Delivers the result of an asynchronous call to its X-Callback-Url, as OpenFaaS's queue worker
// does: a POST with the function's response body plus the X-* call headers. The connection goes
// only where the callback policy allows (checked on the resolved addresses), redirects are not
// followed, and the callback's own answer is read for its status only (its body is discarded, up
// to a bound past which the connection is dropped).
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { ResponseHeaders } from '../pool/dispatcher.js'
import { ERROR_HEADER } from '../errors.js'
import { CallbackDenied, type CallbackPolicy, portOf } from './callback-policy.js'
import type { CallRow } from './store.js'
import { formatTraceparent, newSpanId, parseTraceparent } from '../tracing/traceparent.js'

/**
 * The only headers of a function's response that go into its callback: what a receiver needs to read
 * the body. Anything else (Authorization, Cookie, X-*) could let a function speak for kindling or for
 * the caller to the callback's receiver.
 */
export const CALLBACK_SAFE_HEADERS = ['content-type', 'content-encoding', 'content-language'] as const

/** Bytes of a callback's response body read (and thrown away) before the connection is dropped. */
const MAX_RESPONSE_BYTES = 64 * 1024

export interface CallbackOutcome {
  /** 2xx: done */
  delivered: boolean
  /** worth another try (network error, 5xx, 408, 429) */
  retry: boolean
  status: number | null
  error: string | null
}

/** The header value a row's stored request carried, if any. */
function requestHeader(row: CallRow, name: string): string | undefined {
  const v = (JSON.parse(row.headers) as Record<string, string | undefined>)[name]
  return typeof v === 'string' ? v : undefined
}

/** The headers of the callback POST for a call whose final result is stored in its row. */
export function callbackHeaders(row: CallRow): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const fromFunction = row.result_headers ? (JSON.parse(row.result_headers) as ResponseHeaders) : {}
  for (const [k, v] of Object.entries(fromFunction)) {
    const name = k.toLowerCase()
    if (!(CALLBACK_SAFE_HEADERS as readonly string[]).includes(name)) continue
    const value = Array.isArray(v) ? v[0] : v
    // a value http would refuse is left out rather than failing the delivery
    if (value !== undefined && !/[^\t\x20-\x7e\x80-\xff]/.test(value)) out[name] = value
  }
  out['x-call-id'] = row.id
  const correlation = requestHeader(row, 'x-correlation-id')
  if (correlation !== undefined) out['x-correlation-id'] = correlation
  out['x-function-name'] = row.name
  out['x-function-status'] = String(row.last_status ?? 503)
  // kindling made the error (the body is its JSON): say so as a synchronous answer does
  if (row.last_error) out[ERROR_HEADER] = row.last_error
  out['x-duration-seconds'] = (row.duration_s ?? 0).toFixed(6)
  out['x-retry'] = String(Math.max(0, row.attempts - 1))
  out['x-retry-max'] = String(row.retry_max ?? 0)
  out['user-agent'] = 'kindling-async'
  // tracing (issue 13): the callback is a hop of the caller's trace (a malformed traceparent is left out)
  const tp = parseTraceparent(requestHeader(row, 'traceparent'))
  if (tp) out.traceparent = formatTraceparent({ traceId: tp.traceId, parentSpanId: tp.spanId, spanId: newSpanId(), flags: tp.flags })
  return out
}

/** POSTs callbacks through keep-alive agents whose connections go only to addresses the policy allows. */
export class CallbackSender {
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }

  constructor(private readonly policy: CallbackPolicy) {}

  post(row: CallRow, timeoutMs: number): Promise<CallbackOutcome> {
    const denied = (e: Error): CallbackOutcome => ({ delivered: false, retry: false, status: null, error: `the callback was not sent: ${e.message}` })
    let url: URL
    let headers: Record<string, string | string[]>
    const body = row.result_body ?? Buffer.alloc(0)
    try {
      headers = { ...callbackHeaders(row), 'content-length': String(body.length) }
      url = new URL(row.callback_url!)
      // the accept-time check again: the policy may have changed since (a restart with other settings)
      this.policy.checkUrl(url.href)
      const host = url.hostname.replace(/^\[|\]$/g, '')
      if (net.isIP(host)) this.policy.checkAddress(url.hostname, portOf(url), host)
    } catch (e) {
      return Promise.resolve(denied(e as Error))
    }
    const secure = url.protocol === 'https:'
    return new Promise<CallbackOutcome>((resolve) => {
      let settled = false
      const done = (o: CallbackOutcome) => {
        if (settled) return
        settled = true
        resolve(o)
      }
      const req = (secure ? https : http).request(url, {
        method: 'POST',
        headers,
        agent: secure ? this.agents.https : this.agents.http,
        lookup: this.policy.lookupFor(portOf(url)),
      })
      // one limit for the whole exchange: connecting, sending, the answer and its body
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' })), timeoutMs)
      timer.unref()
      req.on('response', (res) => {
        const s = res.statusCode ?? 0
        let read = 0
        res.on('data', (c: Buffer) => {
          read += c.length
          if (read > MAX_RESPONSE_BYTES) req.destroy()
        })
        res.on('close', () => clearTimeout(timer))
        res.on('error', () => undefined)
        if (s >= 200 && s < 300) done({ delivered: true, retry: false, status: s, error: null })
        else done({ delivered: false, retry: s >= 500 || s === 408 || s === 429, status: s, error: `the callback answered ${s}` })
      })
      req.on('error', (e: Error & { code?: string }) => {
        clearTimeout(timer)
        if (e instanceof CallbackDenied || e.code === 'KINDLING_CALLBACK_DENIED') return done(denied(e))
        done({ delivered: false, retry: true, status: null, error: `the callback could not be reached: ${e.code === 'TIMEOUT' ? e.message : (e.code ?? e.message)}` })
      })
      req.end(body)
    })
  }

  close(): void {
    this.agents.http.destroy()
    this.agents.https.destroy()
  }
}
