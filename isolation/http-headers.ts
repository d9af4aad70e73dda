// The one hop-by-hop header list (RFC 9110 7.6.1, plus the de-facto Keep-Alive and
// Proxy-Connection): headers that describe one connection, not the message, so kindling never
// passes them across a hop (caller -> function, function -> caller, kindling -> a container's
// server). Used by the gateway and the tiers alike.

/** Lower-case names of the hop-by-hop headers. */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade',
]

const HOP = new Set(HOP_BY_HOP_HEADERS)
const HOP_AND_LENGTH = new Set([...HOP_BY_HOP_HEADERS, 'content-length'])

export interface StripOptions {
  /**
   * drop content-length too: where kindling frames the body itself (a function's response, a
   * request it re-sends), a length copied from the other side could disagree with the body
   */
  contentLength?: boolean
}

/** true when a header (lower-case name) must not cross a hop. */
export function isHopByHop(name: string, opts?: StripOptions): boolean {
  return (opts?.contentLength ? HOP_AND_LENGTH : HOP).has(name)
}

/** A copy of headers (lower-case names) without the hop-by-hop ones; undefined values are left out. */
export function stripHopByHop<V>(headers: Readonly<Record<string, V | undefined>>, opts?: StripOptions): Record<string, V> {
  const drop = opts?.contentLength ? HOP_AND_LENGTH : HOP
  const out: Record<string, V> = {}
  for (const k in headers) {
    const v = headers[k]
    if (v !== undefined && !drop.has(k)) out[k] = v
  }
  return out
}

/**
 * Headers the gateway sets on every answer of a function, in place of the function's own of the
 * same name (runtime/gateway/routes/invoke.ts).
 */
export const GATEWAY_RESPONSE_HEADERS: readonly string[] = ['x-call-id', 'x-start-time', 'x-served-by', 'x-duration-seconds', 'content-length']
const GATEWAY_SET = new Set(GATEWAY_RESPONSE_HEADERS)

/** response headers a module may set through kindling.response_header_set, per call */
export const MAX_FUNCTION_HEADERS = 64
/** their names and values together, in bytes (as the CGI header block's bound) */
export const MAX_FUNCTION_HEADER_BYTES = 16 * 1024

/** RFC 9110 5.1: a field name is a token */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Why a function may not send a response header (lower-case name), or undefined when it may. */
export function functionHeaderRefusal(name: string, value: string): 'name' | 'value' | 'reserved' | undefined {
  if (!TOKEN.test(name)) return 'name'
  // RFC 9110 5.5: visible characters, spaces and tabs, obs-text; never CR, LF, NUL or other controls
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return 'value'
  }
  if (isHopByHop(name, { contentLength: true }) || GATEWAY_SET.has(name) || name.startsWith('x-kindling-') || name === 'status') return 'reserved'
  return undefined
}
