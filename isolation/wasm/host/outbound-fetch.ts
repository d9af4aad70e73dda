// One outbound HTTP request of a function, as the outbound helper thread makes it: the allow-list
// is checked on every hop (redirects are followed only inside it, at most MAX_REDIRECTS), names are
// resolved here and the socket connects to the very address that was checked (a name that
// resolves elsewhere later, DNS rebinding, gains nothing), non-public addresses are refused unless
// a pattern names the host literally, the call's deadline bounds the whole exchange and the
// response body is capped. Failures are answers with a code, never exceptions.
import dns from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { isHopByHop } from '../../http-headers.js'
import { AddressRanges, stripBrackets } from '../../net/addresses.js'
import { matchOutbound, OUTBOUND_ANNOTATION, type OutboundPattern } from './outbound-grants.js'

export const MAX_REDIRECTS = 5
/** KINDLING_OUTBOUND_MAX_REQUEST_BYTES's default */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024

/** What the guest sees when a request fails: a negative return value (documented in outbound.ts). */
export const OUTBOUND_ERROR = {
  DENIED: -1,
  BAD_ARGUMENTS: -2,
  INVALID_URL: -3,
  TOO_LARGE: -4,
  FAILED: -5,
  TIMEOUT: -6,
  REQUEST_TOO_LARGE: -7,
} as const
export type OutboundErrorName = keyof typeof OUTBOUND_ERROR

/** The kindling error code named in the message the guest can read for each failure. */
export const OUTBOUND_ERROR_CODES: Record<OutboundErrorName, string> = {
  DENIED: 'KINDLING_ERR_OUTBOUND_DENIED',
  BAD_ARGUMENTS: 'KINDLING_ERR_OUTBOUND_FAILED',
  INVALID_URL: 'KINDLING_ERR_OUTBOUND_FAILED',
  TOO_LARGE: 'KINDLING_ERR_OUTBOUND_TOO_LARGE',
  FAILED: 'KINDLING_ERR_OUTBOUND_FAILED',
  TIMEOUT: 'KINDLING_ERR_TIMEOUT',
  REQUEST_TOO_LARGE: 'KINDLING_ERR_OUTBOUND_REQUEST_TOO_LARGE',
}

export interface OutboundRequest {
  method: string
  url: string
  /** header lines as the guest sent them */
  headers: [string, string][]
  body: Uint8Array
}

export interface OutboundPolicy {
  patterns: readonly OutboundPattern[]
  maxResponseBytes: number
  /** largest request body the function may send (undefined: DEFAULT_MAX_REQUEST_BYTES) */
  maxRequestBytes?: number
  /** Date.now() by which the whole exchange must be over */
  deadline: number
}

export type OutboundResponse =
  | { ok: true; status: number; headers: Record<string, string>; body: Uint8Array }
  | { ok: false; error: OutboundErrorName; message: string }

/** A refused or failed request with its name (the container egress proxy throws and maps these too). */
export class OutboundFailure extends Error {
  constructor(readonly error: OutboundErrorName, message: string) {
    super(`${OUTBOUND_ERROR_CODES[error]}: ${message}`)
  }
}

const ranges = new AddressRanges()
/** headers the host sets itself: the Host (a guest's would dodge the per-host grant), the framing and the hop-by-hop ones */
const hostOwned = (name: string) => name === 'host' || isHopByHop(name, { contentLength: true })

/** The addresses of `url`'s host that the policy lets a socket use (throws DENIED when none). */
export async function checkedAddresses(url: URL, literal: boolean): Promise<dns.LookupAddress[]> {
  const host = stripBrackets(url.hostname)
  let found: dns.LookupAddress[]
  if (net.isIP(host)) found = [{ address: host, family: net.isIP(host) }]
  else {
    try {
      found = await dns.promises.lookup(host, { all: true, verbatim: true })
    } catch (e) {
      throw new OutboundFailure('FAILED', `${host} does not resolve (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
    }
  }
  const ok = found.filter((a) => literal || ranges.deniedBecause(a.address) === undefined)
  if (ok.length === 0) {
    const a = found[0]?.address
    const why = a === undefined ? 'it has no address' : `${a} is not a public address (${ranges.deniedBecause(a)}) and no pattern of ${OUTBOUND_ANNOTATION} names ${host} literally`
    throw new OutboundFailure('DENIED', `${url.origin}: ${why}`)
  }
  return ok
}

interface Hop {
  status: number
  headers: http.IncomingHttpHeaders
  body: Uint8Array
}

function oneHop(url: URL, method: string, headers: [string, string][], body: Uint8Array, addr: dns.LookupAddress, policy: OutboundPolicy, signal: AbortSignal): Promise<Hop> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http
    const outHeaders: Record<string, string> = {}
    for (const [k, v] of headers) if (!hostOwned(k.toLowerCase())) outHeaders[k] = v
    if (body.length) outHeaders['content-length'] = String(body.length)
    const req = mod.request(url, {
      method,
      headers: outHeaders,
      agent: false,
      signal,
      // the socket goes to the address that was checked, never to a second resolution
      lookup: (_host, opts, cb) => {
        const done = cb as unknown as (err: Error | null, a: string | dns.LookupAddress[], f?: number) => void
        if ((opts as dns.LookupAllOptions).all) done(null, [addr])
        else done(null, addr.address, addr.family)
      },
    })
    req.on('error', (e) => reject(e))
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > policy.maxResponseBytes) {
          res.destroy()
          reject(new OutboundFailure('TOO_LARGE', `the response of ${url.origin} is larger than KINDLING_OUTBOUND_MAX_RESPONSE_BYTES (${policy.maxResponseBytes} bytes)`))
          return
        }
        chunks.push(c)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', (e) => reject(e))
    })
    req.end(body.length ? Buffer.from(body.buffer, body.byteOffset, body.length) : undefined)
  })
}

/** Makes one request of a function under its policy; `signal` aborts it (the call ended). */
export async function outboundFetch(req: OutboundRequest, policy: OutboundPolicy, signal?: AbortSignal): Promise<OutboundResponse> {
  const left = policy.deadline - Date.now()
  const timeout = AbortSignal.timeout(Math.max(1, Math.min(left, 2 ** 31 - 1)))
  const both = signal ? AbortSignal.any([signal, timeout]) : timeout
  let url: URL
  let method = req.method.toUpperCase() || 'GET'
  let body = req.body
  let headers = req.headers
  try {
    try {
      url = new URL(req.url)
    } catch {
      throw new OutboundFailure('INVALID_URL', `${JSON.stringify(req.url)} is not a URL`)
    }
    const maxRequest = policy.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES
    if (body.length > maxRequest) throw new OutboundFailure('REQUEST_TOO_LARGE', `the request body (${body.length} bytes) is larger than KINDLING_OUTBOUND_MAX_REQUEST_BYTES (${maxRequest} bytes)`)
    if (!/^[A-Z]+$/.test(method)) throw new OutboundFailure('BAD_ARGUMENTS', `${JSON.stringify(method)} is not an HTTP method`)
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundFailure(hop ? 'DENIED' : 'INVALID_URL', `${url.href} is not http or https`)
      if (url.username || url.password) throw new OutboundFailure('INVALID_URL', 'a URL must not carry credentials (user:password@)')
      const m = matchOutbound(policy.patterns, url)
      if (!m.granted) throw new OutboundFailure('DENIED', `${hop ? 'a redirect to ' : ''}${url.origin} is not granted by ${OUTBOUND_ANNOTATION}`)
      const [addr] = await checkedAddresses(url, m.literal)
      const res = await oneHop(url, method, headers, body, addr!, policy, both)
      const location = res.headers.location
      if (res.status < 300 || res.status > 399 || res.status === 304 || !location) {
        const out: Record<string, string> = {}
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
        return { ok: true, status: res.status, headers: out, body: res.body }
      }
      if (hop >= MAX_REDIRECTS) throw new OutboundFailure('FAILED', `more than ${MAX_REDIRECTS} redirects, the last to ${location}`)
      const next = new URL(location, url)
      // 303, and 301/302 after a POST, turn into a GET without a body (as browsers and curl do)
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET'
        body = new Uint8Array(0)
      }
      // credentials do not follow a redirect to another origin
      if (next.origin !== url.origin) headers = headers.filter(([k]) => !/^(authorization|cookie|proxy-authorization)$/i.test(k))
      url = next
    }
  } catch (e) {
    if (e instanceof OutboundFailure) return { ok: false, error: e.error, message: e.message }
    if (timeout.aborted) return { ok: false, error: 'TIMEOUT', message: `${OUTBOUND_ERROR_CODES.TIMEOUT}: the request ran past the call's deadline` }
    const err = e as NodeJS.ErrnoException
    return { ok: false, error: 'FAILED', message: `${OUTBOUND_ERROR_CODES.FAILED}: ${err.code ? `${err.code} ` : ''}${err.message}` }
  }
}
