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
