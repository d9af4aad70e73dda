// The outbound allow-list of a function: annotation com.kindling.outbound, comma-separated patterns
// with scheme, host and port, as Spin's allowed_outbound_hosts:
//   https://api.example.com        that host, port 443
//   http://127.0.0.1:8099          that address and port
//   https://*.example.com          any subdomain (not example.com itself), port 443
//   https://*:*                    any host, any port (public addresses only)
// Nothing granted: every request is refused. A pattern that names a host literally (no wildcard)
// also lets its requests reach that host's addresses when they are not public (loopback, private,
// link-local); a wildcard never does, so a name that resolves to 127.0.0.1 gains nothing.
import net from 'node:net'
import { stripBrackets } from '../../net/addresses.js'

export const OUTBOUND_ANNOTATION = 'com.kindling.outbound'

export interface OutboundPattern {
  scheme: 'http' | 'https'
  /** lower-case name or address (no brackets), '*' for any host, or '*.suffix' */
  host: string
  /** undefined: any port */
  port: number | undefined
}

export class OutboundPatternError extends Error {}

function defaultPort(scheme: string): number {
  return scheme === 'https' ? 443 : 80
}

/** Parses the annotation's value; throws OutboundPatternError naming the first bad pattern. */
export function parseOutbound(value: string | undefined): OutboundPattern[] {
  if (value === undefined || value.trim() === '') return []
  return value.split(',').map((raw) => raw.trim()).filter(Boolean).map(parsePattern)
}

function parsePattern(raw: string): OutboundPattern {
  const bad = (why: string) => new OutboundPatternError(`${OUTBOUND_ANNOTATION}: ${JSON.stringify(raw)} ${why} (expected scheme://host[:port], e.g. https://api.example.com or http://127.0.0.1:8099)`)
  const m = /^([a-z]+):\/\/(\[[0-9a-f:.]+\]|[^/:\[\]]+)(?::(\d+|\*))?\/?$/i.exec(raw)
  if (!m) throw bad('is not a pattern')
  const scheme = m[1]!.toLowerCase()
  if (scheme !== 'http' && scheme !== 'https') throw bad('has a scheme other than http or https')
  const host = stripBrackets(m[2]!.toLowerCase())
  if (m[2]!.startsWith('[') && !net.isIPv6(host)) throw bad('has a bracketed host that is not an IPv6 address')
  if (host !== '*' && !net.isIP(host)) {
    const name = host.startsWith('*.') ? host.slice(2) : host
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) throw bad('has a host that is not a name, an address, * or *.domain')
  }
  let port: number | undefined = defaultPort(scheme)
  if (m[3] === '*') port = undefined
  else if (m[3] !== undefined) {
    port = Number(m[3])
    if (port < 1 || port > 65535) throw bad('has a port outside 1-65535')
  }
  return { scheme, host, port }
}

/** What the allow-list says about one URL. */
export interface OutboundMatch {
  granted: boolean
  /** a matching pattern names the host literally: its non-public addresses may be used */
  literal: boolean
}

export function matchOutbound(patterns: readonly OutboundPattern[], url: URL): OutboundMatch {
  const scheme = url.protocol.replace(/:$/, '')
  const host = stripBrackets(url.hostname.toLowerCase())
  const port = url.port ? Number(url.port) : defaultPort(scheme)
  let granted = false
  let literal = false
  for (const p of patterns) {
    if (p.scheme !== scheme || (p.port !== undefined && p.port !== port)) continue
    if (p.host === host) {
      granted = literal = true
    } else if (p.host === '*' || (p.host.startsWith('*.') && host.endsWith(p.host.slice(1)))) {
      granted = true
    }
  }
  return { granted, literal }
}
