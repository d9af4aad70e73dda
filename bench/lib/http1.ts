// A minimal HTTP/1.1 client on one keep-alive socket, for latency on loopback: the request bytes
// are built once and the response is parsed only as far as status, content-length and body, so
// the client adds as little as wrk or autocannon would (Node's http client adds ~50 µs a call).
import http from 'node:http'
import net from 'node:net'
import { performance } from 'node:perf_hooks'

export interface Http1Response {
  status: number
  /** raw header block, lower-cased names (for the few headers a benchmark checks) */
  headers: Record<string, string>
  body: Buffer
  /** send to last byte, in microseconds */
  us: number
}

/** The bytes of one request, built once and sent many times. */
export function buildRequest(url: URL, method: string, path: string, body: Buffer = Buffer.alloc(0), headers: Record<string, string> = {}): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${url.host}`, 'connection: keep-alive']
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
  if (body.length || method === 'POST' || method === 'PUT') lines.push(`content-length: ${body.length}`)
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), body])
}

export class Http1Connection {
  private buf: Buffer = Buffer.alloc(0)
  private waiting: { resolve(r: Http1Response): void; reject(e: Error): void; t0: number } | undefined
  private closedWith: Error | undefined

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    const fail = (e: Error) => {
      this.closedWith = e
      const w = this.waiting
      this.waiting = undefined
      w?.reject(e)
    }
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('the server closed the connection')))
  }

  static open(url: URL): Promise<Http1Connection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: url.hostname, port: Number(url.port) }, () => {
        s.off('error', reject)
        resolve(new Http1Connection(s))
      })
      s.once('error', reject)
    })
  }

  /** Sends one request and waits for its whole response (one at a time on this connection). */
  request(raw: Buffer): Promise<Http1Response> {
    if (this.closedWith) return Promise.reject(this.closedWith)
    if (this.waiting) return Promise.reject(new Error('one request at a time per connection'))
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject, t0: performance.now() }
      this.socket.write(raw)
    })
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    const w = this.waiting
    if (!w) return
    const headEnd = this.buf.indexOf('\r\n\r\n')
    if (headEnd < 0) return
    const head = this.buf.toString('latin1', 0, headEnd)
    const headers: Record<string, string> = {}
    const lines = head.split('\r\n')
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i]!.indexOf(':')
      if (c > 0) headers[lines[i]!.slice(0, c).toLowerCase()] = lines[i]!.slice(c + 1).trim()
    }
    if (headers['transfer-encoding']) {
      this.waiting = undefined
      w.reject(new Error('chunked responses are not supported by this client'))
      return
    }
    const length = Number(headers['content-length'] ?? 0)
    const total = headEnd + 4 + length
    if (this.buf.length < total) return
    const us = (performance.now() - w.t0) * 1000
    const body = this.buf.subarray(headEnd + 4, total)
    this.buf = this.buf.length === total ? Buffer.alloc(0) : this.buf.subarray(total)
    this.waiting = undefined
    w.resolve({ status: Number(lines[0]!.slice(9, 12)), headers, body, us })
  }

  close(): void {
    this.socket.destroy()
  }
}

/**
 * One GET on a new connection with Node's own client (no agent, no keep-alive): the baseline the
 * outbound benchmarks compare a function's request with, since kindling's outbound HTTP also
 * connects anew for every request.
 */
export function plainGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks).toString()))
    }).on('error', reject)
  })
}
