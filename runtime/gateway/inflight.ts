// Bounds the request body bytes the gateway holds at once across all calls (issue 18, item 15): a
// call reserves its body's bytes as they arrive (not the Content-Length it announces: clients that
// announce large bodies and send nothing must not take the bound from everyone) and gives them back
// when its response has gone. Past the bound: 503 + Retry-After.
// Bodies are read into one buffer of the announced size: one copy, no chunk list and concat.
import type { FastifyInstance } from 'fastify'
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { KindlingError } from '../errors.js'
import { sendError } from './reply.js'

export class InflightBytes {
  private held = 0
  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.held
  }

  /** Takes n bytes of the bound, or none and false when they do not fit. */
  tryReserve(n: number): boolean {
    if (n <= 0) return true
    if (this.held + n > this.limit) return false
    this.held += n
    return true
  }

  release(n: number): void {
    this.held = Math.max(0, this.held - n)
  }
}

function busy(what: string): KindlingError {
  return new KindlingError('KINDLING_ERR_INFLIGHT_BYTES', what)
}

/** What one request holds of the bound; released once, when its response has gone. */
class Hold {
  bytes = 0
  private released = false
  constructor(private readonly inflight: InflightBytes) {}
  get limit(): number {
    return this.inflight.limit
  }
  add(n: number): boolean {
    if (this.released || !this.inflight.tryReserve(n)) return false
    this.bytes += n
    return true
  }
  release(): void {
    if (this.released) return
    this.released = true
    this.inflight.release(this.bytes)
  }
}

const holds = new WeakMap<IncomingMessage, Hold>()

/** The Content-Length of a request, undefined when it has none (chunked) or it is not a number. */
export function contentLengthOf(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length']
  if (v === undefined || !/^\d+$/.test(v)) return undefined
  return Number(v)
}

/**
 * Opens a request's hold on the bound (its bytes are reserved by readBody as they arrive), freed
 * when `done` closes (the response stream). Throws KINDLING_ERR_INFLIGHT_BYTES at once for a
 * Content-Length that does not fit beside the bytes in flight now.
 */
export function reserveRequest(inflight: InflightBytes, req: IncomingMessage, done: { once(ev: 'close', f: () => void): unknown }): void {
  const hold = new Hold(inflight)
  const n = contentLengthOf(req) ?? 0
  if (inflight.bytes + n > inflight.limit) throw busy(`${n} more request bytes do not fit in the gateway's ${inflight.limit}; ${inflight.bytes} are in flight`)
  holds.set(req, hold)
  done.once('close', () => hold.release())
}

/** The call is over: its body's bytes go back to the bound before its response is written. */
export function releaseRequest(req: IncomingMessage): void {
  holds.get(req)?.release()
}

/**
 * Reads a body into one buffer: of the Content-Length when there is one, else growing as chunks
 * arrive; every chunk is reserved first. At most `limit` bytes (413 beyond).
 */
export function readBody(req: IncomingMessage, stream: Readable, limit: number, cb: (err: Error | null, body?: Buffer) => void): void {
  const hold = holds.get(req)
  const expected = contentLengthOf(req)
  if (expected !== undefined && expected > limit) return cb(new KindlingError('KINDLING_ERR_PAYLOAD_TOO_LARGE', `the body is ${expected} bytes, more than ${limit}`))
  let buf = Buffer.allocUnsafe(expected ?? 0)
  let len = 0
  let finished = false
  const finish = (err: Error | null, body?: Buffer) => {
    if (finished) return
    finished = true
    stream.off('data', onData)
    stream.off('end', onEnd)
    stream.off('error', onError)
    if (err) stream.resume() // drop the rest; the error answer goes out
    cb(err, body)
  }
  const onData = (chunk: Buffer) => {
    if (len + chunk.length > (expected ?? limit)) {
      return finish(expected === undefined ? new KindlingError('KINDLING_ERR_PAYLOAD_TOO_LARGE', `the body is more than ${limit} bytes`) : new KindlingError('KINDLING_ERR_BAD_REQUEST', 'the body is longer than its Content-Length'))
    }
    if (hold && !hold.add(chunk.length)) return finish(busy(`the rest of the body does not fit in the gateway's bound of ${hold.limit} request bytes`))
    if (expected === undefined) {
      if (len + chunk.length > buf.length) {
        // chunked: grow by doubling, so the copies add up to about the body's size once more
        const next = Buffer.allocUnsafe(Math.min(limit, Math.max(64 * 1024, buf.length * 2, len + chunk.length)))
        buf.copy(next, 0, 0, len)
        buf = next
      }
    }
    chunk.copy(buf, len)
    len += chunk.length
  }
  const onEnd = () => {
    if (expected !== undefined && len !== expected) return finish(new KindlingError('KINDLING_ERR_BAD_REQUEST', 'Content-Length does not match the body'))
    finish(null, len === buf.length ? buf : buf.subarray(0, len))
  }
  const onError = (e: Error) => finish(new KindlingError('KINDLING_ERR_BAD_REQUEST', `the body could not be read: ${e.message}`))
  stream.on('data', onData)
  stream.on('end', onEnd)
  stream.on('error', onError)
  stream.resume()
}

/**
 * Makes a route scope read its bodies as bytes, whatever their content type, into one buffer each,
 * counted against the bound from their first byte until their response has gone (the function and
 * async-function routes).
 */
export function boundRequestBodies(scope: FastifyInstance, inflight: InflightBytes, maxBodyBytes: number): void {
  scope.addHook('onRequest', async (req, reply) => {
    try {
      reserveRequest(inflight, req.raw, reply.raw)
    } catch (e) {
      return sendError(reply, e)
    }
  })
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser('*', (req, payload, done) => readBody(req.raw, payload, maxBodyBytes, done))
}
