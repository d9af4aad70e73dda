// Direct HTTP between nodes: the gateway POSTs a call frame to the chosen worker's own URL on an
// internal route, over keep-alive connections. The route answers 404, as if absent, to anyone
// without the cluster token, and reads bodies under the worker's request-byte bound.
import type { FastifyInstance } from 'fastify'
import http from 'node:http'
import { KindlingError, isErrorCode } from '../../errors.js'
import { boundRequestBodies, type InflightBytes, releaseRequest } from '../../gateway/inflight.js'
import { sendError } from '../../gateway/reply.js'
import type { CallAuth } from './auth.js'
import { type AnswerHead, type CallHead, decodeFrame, encodeFrame } from './frame.js'
import { AUTH_HEADER, CALL_ROUTE, FRAME_TYPE } from './names.js'
import { CallNotSent, type Transport } from './transport.js'
import { checkHead, HEAD_ROOM, runPlacedCall, type WorkerDeps } from './worker.js'


export function registerCallRoute(app: FastifyInstance, deps: WorkerDeps & { auth: CallAuth; inflight: InflightBytes }): void {
  app.register(async (scope) => {
    // before the body is read: an anonymous caller learns nothing and holds no bytes
    scope.addHook('onRequest', async (req, reply) => {
      if (!deps.auth.verify(req.headers[AUTH_HEADER])) return sendError(reply, new KindlingError('KINDLING_ERR_ROUTE_NOT_FOUND', `${req.method} ${CALL_ROUTE}`))
    })
    boundRequestBodies(scope, deps.inflight, deps.maxBodyBytes + HEAD_ROOM)
    scope.post(CALL_ROUTE, async (req, reply) => {
      let head: CallHead
      let body: Buffer
      try {
        const f = decodeFrame<unknown>(req.body as Buffer)
        head = checkHead(f.head)
        body = f.body
      } catch (e) {
        return sendError(reply, e instanceof KindlingError ? e : new KindlingError('KINDLING_ERR_BAD_REQUEST', `cluster call frame: ${(e as Error).message}`))
      }
      const cancel = new AbortController()
      const res = reply.raw
      res.once('close', () => {
        if (!res.writableFinished) cancel.abort()
      })
      const out = await runPlacedCall(deps, head, body, cancel.signal)
      ;(req as { body?: unknown }).body = undefined
      releaseRequest(req.raw)
      const frame = encodeFrame(out.head, out.body)
      reply.hijack()
      res.writeHead(200, { 'content-type': FRAME_TYPE, 'content-length': frame.length })
      res.end(frame)
    })
  })
}

export class HttpTransport implements Transport {
  readonly name = 'http'
  private readonly agent: http.Agent

  /**
   * `idleMs`: an idle kept-alive connection is closed after this, well before the worker closes it
   * (its KINDLING_KEEP_ALIVE_TIMEOUT_MS), so that no call is written into a connection the worker
   * is closing: such a call could not be told from one the worker died running, and is never sent twice.
   */
  constructor(
    private readonly auth: CallAuth,
    idleMs: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo', timeout: idleMs })
  }

  call(url: string, _nodeId: string, head: CallHead, body: Buffer, signal: AbortSignal): Promise<{ head: AnswerHead; body: Buffer }> {
    return this.send(url, encodeFrame(head, body), signal)
  }

  private send(url: string, frame: Buffer, signal: AbortSignal): Promise<{ head: AnswerHead; body: Buffer }> {
    return new Promise((resolve, reject) => {
      let answered = false
      const req = http.request(`${url}${CALL_ROUTE}`, {
        method: 'POST',
        agent: this.agent,
        headers: { [AUTH_HEADER]: this.auth.token(), 'content-type': FRAME_TYPE, 'content-length': frame.length },
      })
      const onAbort = () => req.destroy()
      signal.addEventListener('abort', onAbort, { once: true })
      const done = () => signal.removeEventListener('abort', onAbort)
      req.on('response', (res) => {
        answered = true
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', () => {})
        res.on('close', () => {
          done()
          if (!res.complete) reject(signal.aborted ? cancelled() : lost(url, 'the answer was cut off'))
        })
        res.on('end', () => {
          done()
          const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
          if (res.statusCode !== 200) {
            // the worker refused the call before it ran (bound of request bytes, size): its error
            const code = res.headers['x-kindling-error']
            let message = `worker ${url} answered ${res.statusCode}`
            try {
              message = (JSON.parse(buf.toString()) as { message?: string }).message ?? message
            } catch {
              /* not an error body */
            }
            return reject(new KindlingError(typeof code === 'string' && isErrorCode(code) ? code : 'KINDLING_ERR_INTERNAL', message))
          }
          try {
            resolve(decodeFrame<AnswerHead>(buf))
          } catch (e) {
            reject(lost(url, `unreadable answer: ${(e as Error).message}`))
          }
        })
      })
      req.on('error', (e: NodeJS.ErrnoException) => {
        done()
        if (answered) return
        if (signal.aborted) return reject(cancelled())
        // a reset may come from a worker that died running the call: it fails, it is not sent again
        if (e.code === 'ECONNREFUSED') return reject(new CallNotSent(`worker ${url} refused the connection`))
        reject(lost(url, e.message))
      })
      req.end(frame)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

const cancelled = () => new KindlingError('KINDLING_ERR_CALL_CANCELLED', 'the client hung up before the answer')
const lost = (url: string, why: string) => new KindlingError('KINDLING_ERR_WORKER_LOST', `worker ${url} was lost during the call: ${why}`)
