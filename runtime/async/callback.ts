// Delivers the result of an asynchronous call to its X-Callback-Url, as OpenFaaS's queue worker
// does: a POST with the function's response body and headers plus the X-* call headers.
import type { ResponseHeaders } from '../../isolation/tier.js'
import type { CallRow } from './store.js'

const DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length', 'host', 'proxy-connection'])

export interface CallbackOutcome {
  /** 2xx: done */
  delivered: boolean
  /** worth another try (network error, 5xx, 408, 429) */
  retry: boolean
  status: number | null
  error: string | null
}

/** The headers of the callback POST for a call whose final result is stored in its row. */
export function callbackHeaders(row: CallRow): Headers {
  const out = new Headers()
  const fromFunction = row.result_headers ? (JSON.parse(row.result_headers) as ResponseHeaders) : {}
  for (const [k, v] of Object.entries(fromFunction)) {
    if (DROP.has(k.toLowerCase())) continue
    // a header sent more than once (set-cookie) goes out once per value
    for (const value of Array.isArray(v) ? v : [v]) out.append(k, value)
  }
  out.set('X-Call-Id', row.id)
  out.set('X-Function-Name', row.name)
  out.set('X-Function-Status', String(row.last_status ?? 503))
  out.set('X-Duration-Seconds', (row.duration_s ?? 0).toFixed(6))
  out.set('X-Retry', String(Math.max(0, row.attempts - 1)))
  out.set('X-Retry-Max', String(row.retry_max ?? 0))
  out.set('User-Agent', 'kindling-async')
  return out
}

export async function postCallback(row: CallRow, timeoutMs: number): Promise<CallbackOutcome> {
  try {
    const res = await fetch(row.callback_url!, {
      method: 'POST',
      headers: callbackHeaders(row),
      // a copy typed as BodyInit wants it (Uint8Array over an ArrayBuffer)
      body: new Uint8Array(row.result_body ?? []),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    })
    // the body is not needed; reading it frees the connection for reuse
    await res.arrayBuffer().catch(() => undefined)
    const s = res.status
    if (s >= 200 && s < 300) return { delivered: true, retry: false, status: s, error: null }
    return { delivered: false, retry: s >= 500 || s === 408 || s === 429, status: s, error: `the callback answered ${s}` }
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } }
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message)
    return { delivered: false, retry: true, status: null, error: `the callback could not be reached: ${why}` }
  }
}
