// The invoke panel: method, path, headers and body in; status, headers, body and duration out. The
// call goes to /function/NAME without the dashboard's credentials: function code is untrusted
// and must not see them.
import { fill, h, ms } from '../dom.js'
import { describeError } from '../live.js'

const METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE']
/** bodies longer than this are cut on screen (the size is still shown) */
const MAX_SHOWN = 64 * 1024

/** "Name: value" lines into headers; malformed lines are reported, not dropped silently. */
export function parseHeaders(text: string): Headers {
  const headers = new Headers()
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (!line) continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`header line ${i + 1} is not "Name: value"`)
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim())
  }
  return headers
}

export function invokePanel(name: string, namespace: string): HTMLElement {
  const method = h('select', { id: 'invoke-method', 'aria-label': 'method' }, ...METHODS.map((m) => h('option', { value: m }, m)))
  const path = h('input', { id: 'invoke-path', value: '/', 'aria-label': 'path', class: 'grow' })
  const headers = h('textarea', { id: 'invoke-headers', rows: 3, placeholder: 'Content-Type: text/plain', 'aria-label': 'headers' })
  const body = h('textarea', { id: 'invoke-body', rows: 5, placeholder: 'request body', 'aria-label': 'body' })
  const out = h('div', { class: 'invoke-result', id: 'invoke-result', 'aria-live': 'polite' })
  const send = h('button', { type: 'submit', id: 'invoke-send' }, 'Send')
  const target = `/function/${encodeURIComponent(name)}${namespace ? `.${encodeURIComponent(namespace)}` : ''}`

  const form = h('form', { class: 'invoke', onsubmit: async (ev: Event) => {
    ev.preventDefault()
    send.disabled = true
    fill(out, h('p', { class: 'muted' }, 'calling…'))
    try {
      const p = path.value.startsWith('/') ? path.value : `/${path.value}`
      const init: RequestInit = { method: method.value, headers: parseHeaders(headers.value), credentials: 'omit', cache: 'no-store', redirect: 'manual' }
      if (method.value !== 'GET' && method.value !== 'HEAD') init.body = body.value
      const t0 = performance.now()
      const res = await fetch(target + (p === '/' ? '' : p), init)
      if (res.type === 'opaqueredirect') {
        // the browser hides a redirect it was told not to follow: say so rather than show status 0
        fill(out, h('p', {}, h('strong', { id: 'invoke-status' }, 'a redirect'), ' (3xx; not followed, and the browser does not show its Location)'))
        return
      }
      const bytes = new Uint8Array(await res.arrayBuffer())
      const took = performance.now() - t0
      const gateway = Number(res.headers.get('x-duration-seconds')) * 1000 || 0
      const shown = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, MAX_SHOWN))
      fill(out,
        h('p', {}, h('strong', { class: res.ok ? 'ok' : 'error', id: 'invoke-status' }, `${res.status} ${res.statusText}`), ` in ${ms(took)} (browser clock${gateway ? `; gateway ${ms(gateway)}` : ''}), ${bytes.length} bytes`),
        h('details', {}, h('summary', {}, 'Response headers'), h('pre', {}, [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n'))),
        h('pre', { class: 'body', id: 'invoke-body-out' }, shown + (bytes.length > MAX_SHOWN ? `\n… (${bytes.length - MAX_SHOWN} more bytes)` : '')),
      )
    } catch (e) {
      fill(out, h('p', { class: 'error' }, describeError(e)))
    } finally {
      send.disabled = false
    }
  } },
    h('div', { class: 'row' }, method, h('code', {}, target), path, send),
    h('label', { for: 'invoke-headers' }, 'Headers'), headers,
    h('label', { for: 'invoke-body' }, 'Body'), body,
  )
  return h('div', {}, form, out)
}
