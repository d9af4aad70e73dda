// The egress proxy of one container sandbox whose function has com.kindling.outbound: an HTTP
// forward proxy on a Unix socket in the host's network namespace, reached from inside the
// container only through the in-netns forwarder (egress.ts). It applies the rules of the wasm
// tiers' outbound HTTP, not a copy of them: the allow-list (outbound-grants.ts matchOutbound), the
// name resolved here and the socket connected to the very address that was checked, non-public
// addresses refused unless a pattern names the host literally (outbound-fetch.ts checkedAddresses,
// isolation/net/addresses.ts).
//  - absolute-form requests (GET http://host:port/path): matched as http://host:port, re-sent
//    with the Host of the URL and a body framed here (the function's Host, Content-Length,
//    Transfer-Encoding and hop-by-hop headers never cross);
//  - CONNECT host:port (https): the proxy sees no path nor scheme inside the tunnel, so only
//    https://host:port patterns grant it; bytes from upstream are capped as a response is, bytes
//    from the function as a request body is.
// A request body above maxRequestBytes is refused (413) or, once streaming, cut; every refusal
// closes its connection, so nothing the function sends after it is read or drained. Headers that
// never end are cut after the header timeout (checked often, not Node's default 30 s).
// Nothing goes out while no call is in flight (policy.deadline() undefined); every exchange and
// tunnel ends at the deadline it was opened under, and endAll() ends them all when the call does.
// Refusals are the JSON error body with its code (403 KINDLING_ERR_OUTBOUND_DENIED, 502
// KINDLING_ERR_OUTBOUND_FAILED when upstream fails, 504 KINDLING_ERR_TIMEOUT at the deadline).
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import { ERROR_CONTENT_TYPE, ERROR_HEADER, ERRORS, type ErrorCode, errorBody, errorMessage } from '../errors.js'
import { isHopByHop } from '../http-headers.js'
import { stripBrackets } from '../net/addresses.js'
import { checkedAddresses, OUTBOUND_ERROR_CODES, OutboundFailure } from '../wasm/host/outbound-fetch.js'
import { matchOutbound, OUTBOUND_ANNOTATION, type OutboundPattern } from '../wasm/host/outbound-grants.js'

/** connections from one sandbox at once, and exchanges or tunnels upstream at once */
export const EGRESS_MAX_CONNECTIONS = 32
const HEADERS_TIMEOUT_MS = 10_000

export interface EgressPolicy {
  patterns: readonly OutboundPattern[]
  /** bytes one response (or one tunnel) may carry back from upstream */
  maxResponseBytes: number
  /** bytes one request body (or one tunnel) may carry from the function upstream */
  maxRequestBytes: number
  /** Date.now() by which the calls in flight end; undefined: none in flight, nothing goes out */
  deadline(): number | undefined
}

class Refusal extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message)
  }
}

/** The kindling code of a failure of the shared outbound rules. */
function refusalOf(e: unknown): Refusal {
  if (e instanceof Refusal) return e
  if (e instanceof OutboundFailure) {
    const code = OUTBOUND_ERROR_CODES[e.error] as ErrorCode
    return new Refusal(code, e.message.replace(/^KINDLING_ERR_\w+: /, ''))
  }
  const err = e as NodeJS.ErrnoException
  return new Refusal('KINDLING_ERR_OUTBOUND_FAILED', `${err.code ? `${err.code} ` : ''}${err.message}`)
}

function errorResponse(r: Refusal): { status: number; headers: Record<string, string>; body: Buffer } {
  const body = errorBody(r.code, errorMessage(r.code, r.message))
  // a refusal ends its connection: a body still coming (or requests behind it) is never read
  return { status: ERRORS[r.code].status, headers: { 'content-type': ERROR_CONTENT_TYPE, [ERROR_HEADER]: r.code, 'content-length': String(body.length), connection: 'close' }, body }
}

/** An error answer as raw HTTP/1.1 bytes (CONNECT refusals; the forwarder's answer when it is full). */
export function rawErrorResponse(code: ErrorCode, message: string): string {
  const out = errorResponse(new Refusal(code, message))
  const lines = Object.entries(out.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  return `HTTP/1.1 ${out.status} ${http.STATUS_CODES[out.status] ?? ''}\r\n${lines}\r\n${out.body.toString()}`
}

/** What the forwarder answers to a connection past EGRESS_MAX_CONNECTIONS (it cannot import this module's helpers). */
export const BUSY_RESPONSE = rawErrorResponse('KINDLING_ERR_OUTBOUND_BUSY', `more than ${EGRESS_MAX_CONNECTIONS} connections to the egress proxy at once`)

export class EgressProxy {
  private readonly server: http.Server
  /** every socket of the proxy, both sides: endAll() destroys them */
  private readonly sockets = new Set<Duplex>()
  private active = 0

  constructor(
    private readonly policy: EgressPolicy,
    private readonly log: (text: string) => void,
    headersTimeoutMs = HEADERS_TIMEOUT_MS,
  ) {
    // Node checks header timeouts every connectionsCheckingInterval (30 s by default): a slowloris
    // would hold its connection for up to 40 s; a connection that sends nothing expires the same way
    const checkEvery = Math.max(10, Math.min(1000, Math.floor(headersTimeoutMs / 4)))
    this.server = http.createServer({ headersTimeout: headersTimeoutMs, requestTimeout: 0, keepAliveTimeout: 5_000, connectionsCheckingInterval: checkEvery }, (req, res) => void this.forward(req, res))
    // the forwarder answers the 33rd connection (BUSY_RESPONSE); this only backs it up, with room for
    // connections the forwarder has let go of and this side has not seen close yet
    this.server.maxConnections = 2 * EGRESS_MAX_CONNECTIONS
    this.server.on('connection', (s: net.Socket) => this.track(s))
    this.server.on('connect', (req: http.IncomingMessage, s: Duplex, head: Buffer) => void this.tunnel(req, s, head))
  }

  listen(socketPath: string): Promise<void> {
    fs.rmSync(socketPath, { force: true })
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(socketPath, () => resolve())
    })
  }

  /** Ends every connection, exchange and tunnel (the call is over, the sandbox is reset). */
  endAll(): void {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  close(): void {
    this.server.close()
    this.endAll()
  }

  private track<S extends Duplex>(s: S): S {
    this.sockets.add(s)
    s.on('error', () => {})
    s.once('close', () => this.sockets.delete(s))
    return s
  }

  /** Checks that something may go out now; returns the deadline it must end by. */
  private admit(): number {
    const deadline = this.policy.deadline()
    if (deadline === undefined) throw new Refusal('KINDLING_ERR_OUTBOUND_DENIED', 'no call of the function is in flight: a container reaches the network only during its calls')
    if (deadline <= Date.now()) throw new Refusal('KINDLING_ERR_TIMEOUT', 'the call\'s deadline has passed')
    if (this.active >= EGRESS_MAX_CONNECTIONS) throw new Refusal('KINDLING_ERR_OUTBOUND_FAILED', `more than ${EGRESS_MAX_CONNECTIONS} outbound exchanges at once`)
    return deadline
  }

  /**
   * Resolves and checks the target; the address the socket must connect to. The lookup counts
   * against the deadline, and a function that hung up meanwhile (or a call that ended) gets nothing.
   */
  private async target(url: URL, deadline: number, from: Duplex): Promise<{ address: string; family: number; port: number }> {
    if (url.username || url.password) throw new Refusal('KINDLING_ERR_BAD_REQUEST', 'a URL must not carry credentials (user:password@)')
    const m = matchOutbound(this.policy.patterns, url)
    if (!m.granted) throw new Refusal('KINDLING_ERR_OUTBOUND_DENIED', `${url.origin} is not granted by ${OUTBOUND_ANNOTATION}${url.protocol === 'https:' ? ' (CONNECT is matched as https://host:port)' : ''}`)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Refusal('KINDLING_ERR_TIMEOUT', `${url.hostname} did not resolve before the call's deadline`)), Math.max(1, deadline - Date.now()))
    })
    try {
      const [addr] = await Promise.race([checkedAddresses(url, m.literal), late])
      if (from.destroyed || this.policy.deadline() === undefined) throw new Refusal('KINDLING_ERR_OUTBOUND_DENIED', 'the call ended before the request went out')
      return { address: addr!.address, family: addr!.family, port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80) }
    } finally {
      clearTimeout(timer)
    }
  }

  private async forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const refuse = (e: unknown): void => {
      const r = refusalOf(e)
      if (res.headersSent) return void res.destroy()
      const out = errorResponse(r)
      res.writeHead(out.status, out.headers).end(out.body)
    }
    let counted = false
    try {
      const deadline = this.admit()
      const raw = req.url ?? ''
      if (!/^http:\/\//i.test(raw)) throw new Refusal('KINDLING_ERR_BAD_REQUEST', `the proxy takes absolute http:// URLs (GET http://host/path); https goes through CONNECT host:443, got ${JSON.stringify(raw.slice(0, 200))}`)
      let url: URL
      try {
        url = new URL(raw)
      } catch {
        throw new Refusal('KINDLING_ERR_BAD_REQUEST', `${JSON.stringify(raw.slice(0, 200))} is not a URL`)
      }
      const declared = Number(req.headers['content-length'] ?? 0)
      if (declared > this.policy.maxRequestBytes) throw this.tooLarge(url.origin, `${declared} bytes`)
      this.active++
      counted = true
      const to = await this.target(url, deadline, req.socket)
      // the function's own framing and Host never cross: Node frames the body it pipes
      const headers: Record<string, string | string[]> = {}
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!
        const lower = name.toLowerCase()
        if (lower === 'host' || isHopByHop(lower, { contentLength: true })) continue
        const prev = headers[name]
        headers[name] = prev === undefined ? req.rawHeaders[i + 1]! : [...(Array.isArray(prev) ? prev : [prev]), req.rawHeaders[i + 1]!]
      }
      headers['host'] = url.host
      const length = req.headers['content-length']
      if (length !== undefined) headers['content-length'] = length
      await new Promise<void>((resolve) => {
        const up = http.request({ host: to.address, family: to.family, port: to.port, method: req.method, path: url.pathname + url.search, headers, agent: false, setHost: false })
        const timer = setTimeout(() => up.destroy(new Refusal('KINDLING_ERR_TIMEOUT', 'the request ran past the call\'s deadline')), Math.max(1, deadline - Date.now()))
        up.on('socket', (s) => this.track(s))
        const done = (): void => (clearTimeout(timer), resolve())
        up.on('error', (e) => (refuse(e), done()))
        // the function hung up (or endAll ran): the exchange upstream ends too
        res.on('close', () => (up.destroy(), done()))
        // a chunked body (or one longer than it said) is counted as it streams
        let sent = 0
        req.on('data', (c: Buffer) => {
          sent += c.length
          if (sent > this.policy.maxRequestBytes && !up.destroyed) (req.unpipe(up), up.destroy(this.tooLarge(url.origin, `more than ${this.policy.maxRequestBytes} bytes`)))
        })
        up.on('response', (r) => {
          const out: Record<string, string | string[]> = {}
          for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !isHopByHop(k)) out[k] = v
          res.writeHead(r.statusCode ?? 502, out)
          let size = 0
          r.on('data', (c: Buffer) => {
            size += c.length
            if (size > this.policy.maxResponseBytes) {
              this.log(`outbound: the response of ${url.origin} passed KINDLING_OUTBOUND_MAX_RESPONSE_BYTES (${this.policy.maxResponseBytes}); cut`)
              up.destroy()
              res.destroy()
            }
          })
          r.pipe(res)
          r.on('end', done)
          r.on('error', () => (res.destroy(), done()))
        })
        req.pipe(up)
      })
    } catch (e) {
      refuse(e)
    } finally {
      if (counted) this.active--
    }
  }

  private tooLarge(origin: string, size: string): Refusal {
    this.log(`outbound: a request body to ${origin} passed KINDLING_OUTBOUND_MAX_REQUEST_BYTES (${this.policy.maxRequestBytes}); refused`)
    return new Refusal('KINDLING_ERR_OUTBOUND_REQUEST_TOO_LARGE', `the request body (${size}) is larger than KINDLING_OUTBOUND_MAX_REQUEST_BYTES (${this.policy.maxRequestBytes} bytes)`)
  }

  private async tunnel(req: http.IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    this.track(client)
    const refuse = (e: unknown): void => {
      const r = refusalOf(e)
      client.end(rawErrorResponse(r.code, r.message))
    }
    let counted = false
    try {
      const deadline = this.admit()
      const raw = req.url ?? ''
      const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw)
      let url: URL | undefined
      try {
        url = m ? new URL(`https://${m[1]}:${m[2]}`) : undefined
      } catch {
        url = undefined
      }
      if (!url || Number(m![2]) < 1 || Number(m![2]) > 65535 || stripBrackets(url.hostname) === '') throw new Refusal('KINDLING_ERR_BAD_REQUEST', `CONNECT takes host:port, got ${JSON.stringify(raw.slice(0, 200))}`)
      if (head.length > this.policy.maxRequestBytes) throw this.tooLarge(url.origin, `${head.length} bytes`)
      this.active++
      counted = true
      // new URL drops the default port 443: the target's port is the one asked for
      const to = { ...(await this.target(url, deadline, client)), port: Number(m![2]) }
      await new Promise<void>((resolve) => {
        const up = this.track(net.connect({ host: to.address, family: to.family, port: to.port }))
        const timer = setTimeout(() => (up.destroy(), client.destroy()), Math.max(1, deadline - Date.now()))
        let open = false
        const done = (): void => (clearTimeout(timer), resolve())
        up.once('connect', () => {
          open = true
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
          if (head.length) up.write(head)
          // what the function sends into the tunnel is capped as a request body is
          let sent = head.length
          client.on('data', (c: Buffer) => {
            sent += c.length
            if (sent > this.policy.maxRequestBytes && !up.destroyed) {
              this.log(`outbound: a tunnel to ${url!.host} passed KINDLING_OUTBOUND_MAX_REQUEST_BYTES (${this.policy.maxRequestBytes}) upstream; cut`)
              up.destroy()
              client.destroy()
            }
          })
          let size = 0
          up.on('data', (c: Buffer) => {
            size += c.length
            if (size > this.policy.maxResponseBytes) {
              this.log(`outbound: a tunnel to ${url!.host} passed KINDLING_OUTBOUND_MAX_RESPONSE_BYTES (${this.policy.maxResponseBytes}); cut`)
              up.destroy()
              client.destroy()
            }
          })
          up.pipe(client)
          client.pipe(up)
        })
        up.on('error', (e) => {
          if (!open) refuse(e)
          else client.destroy()
        })
        up.once('close', () => (client.destroy(), done()))
        client.once('close', () => (up.destroy(), done()))
      })
    } catch (e) {
      refuse(e)
    } finally {
      if (counted) this.active--
    }
  }
}
