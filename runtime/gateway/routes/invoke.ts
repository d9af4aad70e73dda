// Synchronous calls: any method on /function/{name}[/{path}], as the OpenFaaS gateway serves them.
// This is the hot path: one map lookup, one pool call, headers copied once.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { KindlingError } from '../../errors.js'
import { isCallerId, splitQualifiedName } from '../../names.js'
import type { CallRequest, InvokeResult, Invoker } from '../../pool/dispatcher.js'
import { GATEWAY_RESPONSE_HEADERS, isHopByHop } from '../../http-headers.js'
import { CallCancel } from '../cancel.js'
import { boundRequestBodies, type InflightBytes, releaseRequest } from '../inflight.js'
import { ERROR_HEADER, sendError } from '../reply.js'

export const FUNCTION_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const
const ALLOWED = new Set<string>(FUNCTION_METHODS)
const EMPTY = Buffer.alloc(0)
/** headers the gateway sets on every answer, in place of a function's own of the same name */
const GATEWAY_SET = new Set(GATEWAY_RESPONSE_HEADERS)

export interface InvokeRouteOptions {
  /** the local dispatcher, or the cluster router on a gateway in a cluster */
  invoker: Invoker
  defaultNamespace: string
  maxBodyBytes: number
  servedBy: string
  /** the bound on request bytes held at once */
  inflight: InflightBytes
  /** a client must take its whole response within this, or its connection is closed */
  responseTimeoutMs: number
}

/**
 * Builds the request of a call: lower-case single-valued headers, path after the function name.
 * It has no deadline: the pool computes it when the call starts on a sandbox.
 */
export function toInvokeRequest(req: FastifyRequest, callId: string, subPath: string): CallRequest {
  const headers: Record<string, string> = {}
  const raw = req.headers
  for (const k in raw) {
    if (isHopByHop(k)) continue
    const v = raw[k]
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
  }
  headers['x-call-id'] = callId
  const url = req.raw.url ?? ''
  const q = url.indexOf('?')
  return {
    callId,
    method: req.method,
    path: subPath,
    query: q < 0 ? '' : url.slice(q + 1),
    headers,
    body: (req.body as Buffer | undefined) ?? EMPTY,
  }
}

export function registerInvokeRoutes(app: FastifyInstance, opts: InvokeRouteOptions): void {
  const { invoker, defaultNamespace } = opts

  const handler = async (req: FastifyRequest<{ Params: { name: string; '*'?: string } }>, reply: FastifyReply) => {
    const started = performance.now()
    // a caller's X-Call-Id is kept (OpenFaaS passes it on) only when it looks like an id: it goes
    // into response headers, logs and the function's environment
    const given = req.headers['x-call-id']
    const callId = isCallerId(given) ? given : randomUUID()
    const startTime = `${Date.now()}000000`
    reply.header('x-call-id', callId).header('x-start-time', startTime).header('x-served-by', opts.servedBy)
    if (!ALLOWED.has(req.method)) return sendError(reply, new KindlingError('KINDLING_ERR_METHOD_NOT_ALLOWED', `method ${req.method} is not allowed`))
    const { name, namespace } = splitQualifiedName(req.params.name, defaultNamespace)
    const rest = req.params['*']
    const invokeReq = toInvokeRequest(req, callId, `/${rest ?? ''}`)
    // a client that hangs up before its answer cancels the call: its response closes unfinished
    const cancel = new CallCancel()
    const res = reply.raw
    res.once('close', () => {
      if (!res.writableFinished) cancel.abort()
    })
    let result: InvokeResult
    try {
      result = await invoker.invoke(name, namespace, invokeReq, cancel)
    } catch (e) {
      return sendError(reply, e)
    } finally {
      // the body is not needed any more: a client slow to read its answer does not hold it
      ;(req as { body?: unknown }).body = undefined
      invokeReq.body = EMPTY
      releaseRequest(req.raw)
    }
    // a new object of a fixed shape, the function's headers added after: spreading the function's
    // headers and then setting the gateway's was ~4% of the gateway's CPU under load (bench/README.md)
    const headers: Record<string, string | string[]> = {
      'x-call-id': callId,
      'x-start-time': startTime,
      'x-served-by': opts.servedBy,
      'x-duration-seconds': ((performance.now() - started) / 1000).toFixed(6),
      'content-length': String(result.body.length),
    }
    const fnHeaders = result.headers
    for (const k in fnHeaders) if (!GATEWAY_SET.has(k)) headers[k] = fnHeaders[k]!
    if (result.errorCode) headers[ERROR_HEADER] = result.errorCode
    // the function's answer goes straight to the socket: fastify's generic reply pipeline (hooks,
    // serialisers) has nothing to do on this route and costs more than the rest of the call
    try {
      res.writeHead(result.status, headers)
    } catch (e) {
      return sendError(reply, new KindlingError('KINDLING_ERR_FUNCTION_FAILED', `the function answered a header Node refuses: ${(e as Error).message}`))
    }
    reply.hijack()
    res.end(req.method === 'HEAD' ? undefined : result.body)
    if (!res.writableFinished) {
      // a client that does not read its answer would hold it (and the connection) for ever
      const timer = setTimeout(() => res.destroy(), opts.responseTimeoutMs)
      res.once('close', () => clearTimeout(timer))
    }
  }

  app.register(async (scope) => {
    boundRequestBodies(scope, opts.inflight, opts.maxBodyBytes)
    for (const url of ['/function/:name', '/function/:name/*']) {
      scope.route({ method: [...FUNCTION_METHODS], url, exposeHeadRoute: false, handler })
    }
  })
}
