// POST /async-function/{name}[/{path}]: accepts a call for later (202, X-Call-Id, empty body), as
// the OpenFaaS gateway does, but answers 404 for a function that is not deployed. The call state
// routes (GET and DELETE /system/async-calls/{id}, the list GET /system/async-calls?state= and the
// dead-letter replay POST /system/async-calls/{id}/replay) are a kindling extension behind basic auth.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { KindlingError } from '../errors.js'
import type { Registry } from '../registry/registry.js'
import { toInvokeRequest } from '../gateway/routes/invoke.js'
import { boundRequestBodies, type InflightBytes } from '../gateway/inflight.js'
import { sendError } from '../gateway/reply.js'
import { functionKey, isCallerId, splitQualifiedName } from '../names.js'
import type { CallbackPolicy } from './callback-policy.js'
import type { AsyncCalls } from './queue.js'
import { CALL_STATES, type CallState } from './store.js'

/**
 * The call id is always the gateway's: a caller's X-Correlation-Id, or else its X-Call-Id, is kept
 * as the call's correlation id (passed to the function and the callback as X-Correlation-Id) when it
 * looks like an id. Were a caller's id the queue key, a reused id would be a call silently dropped.
 */
function correlationOf(req: FastifyRequest): string | undefined {
  for (const name of ['x-correlation-id', 'x-call-id']) {
    const v = req.headers[name]
    if (isCallerId(v)) return v
  }
  return undefined
}

/** The X-Callback-Url, checked against the callback policy; undefined when there is none. */
export function callbackUrlOf(header: string | string[] | undefined, policy: CallbackPolicy): string | undefined {
  if (header === undefined || header === '') return undefined
  return policy.checkUrl(Array.isArray(header) ? header[0]! : header).href
}

export interface AsyncRouteOptions {
  queue: AsyncCalls
  /** what is deployed */
  registry: Registry
  defaultNamespace: string
  maxBodyBytes: number
  /** the gateway's bound on request body bytes held at once */
  inflight: InflightBytes
  servedBy: string
}

/** The public route (no auth, as /function/* has none). */
export function registerAsyncInvokeRoutes(app: FastifyInstance, opts: AsyncRouteOptions): void {
  const handler = async (req: FastifyRequest<{ Params: { name: string; '*'?: string } }>, reply: FastifyReply) => {
    const callId = randomUUID()
    const correlation = correlationOf(req)
    const createdAt = Date.now()
    if (correlation !== undefined) reply.header('x-correlation-id', correlation)
    reply.header('x-call-id', callId).header('x-start-time', String(BigInt(createdAt) * 1_000_000n)).header('x-served-by', opts.servedBy)
    try {
      const callbackUrl = callbackUrlOf(req.headers['x-callback-url'], opts.queue.callbackPolicy)
      const { name, namespace } = splitQualifiedName(req.params.name, opts.defaultNamespace)
      if (!opts.registry.get(name, namespace)) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in namespace ${namespace}`)
      const r = toInvokeRequest(req, callId, `/${req.params['*'] ?? ''}`)
      if (correlation !== undefined) r.headers['x-correlation-id'] = correlation
      await opts.queue.accept({
        id: callId,
        fnKey: functionKey(name, namespace),
        name: req.params.name,
        namespace,
        // the OpenFaaS queue worker always calls with POST; so does kindling (only POST is accepted anyway)
        method: 'POST',
        path: r.path,
        query: r.query,
        headers: r.headers,
        body: r.body,
        callbackUrl,
        createdAt,
      })
      return reply.code(202).send()
    } catch (e) {
      return sendError(reply, e)
    }
  }
  app.register(async (scope) => {
    // bodies count against the gateway's bound on request bytes in flight, as /function/* bodies do
    boundRequestBodies(scope, opts.inflight, opts.maxBodyBytes)
    for (const url of ['/async-function/:name', '/async-function/:name/*']) scope.post(url, handler)
  })
}

export const LIST_DEFAULT_LIMIT = 100
export const LIST_MAX_LIMIT = 1000

/** The list's query: state (one of CALL_STATES), limit (1..LIST_MAX_LIMIT), after (the previous page's next). */
function listQuery(q: Record<string, string | undefined>): { state: CallState | undefined; limit: number; after: string | undefined } {
  const state = q.state === undefined || q.state === '' ? undefined : q.state
  if (state !== undefined && !(CALL_STATES as readonly string[]).includes(state)) {
    throw new KindlingError('KINDLING_ERR_INVALID_QUERY', `state must be one of ${CALL_STATES.join(', ')}`)
  }
  let limit = LIST_DEFAULT_LIMIT
  if (q.limit !== undefined) {
    if (!/^\d{1,7}$/.test(q.limit) || Number(q.limit) < 1 || Number(q.limit) > LIST_MAX_LIMIT) throw new KindlingError('KINDLING_ERR_INVALID_QUERY', `limit must be an integer from 1 to ${LIST_MAX_LIMIT}`)
    limit = Number(q.limit)
  }
  const after = q.after === undefined || q.after === '' ? undefined : q.after
  if (after !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(after)) throw new KindlingError('KINDLING_ERR_INVALID_QUERY', 'after must be the next value of the previous page')
  return { state: state as CallState | undefined, limit, after }
}

/** GET /system/async-calls, GET and DELETE /system/async-calls/{callId}, POST .../{callId}/replay (behind auth). */
export function registerAsyncCallRoutes(app: FastifyInstance, opts: Pick<AsyncRouteOptions, 'queue'>): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/system/async-calls', async (req, reply) => {
    try {
      const q = listQuery(req.query)
      return reply.send(await opts.queue.list(q.state, q.after, q.limit))
    } catch (e) {
      return sendError(reply, e)
    }
  })
  app.get<{ Params: { id: string } }>('/system/async-calls/:id', async (req, reply) => {
    try {
      const s = await opts.queue.get(req.params.id)
      if (!s) throw new KindlingError('KINDLING_ERR_CALL_NOT_FOUND', `no asynchronous call ${req.params.id}`)
      return reply.send(s)
    } catch (e) {
      return sendError(reply, e)
    }
  })
  app.post<{ Params: { id: string } }>('/system/async-calls/:id/replay', async (req, reply) => {
    try {
      const callId = await opts.queue.replay(req.params.id)
      return reply.code(202).header('x-call-id', callId).send({ callId, replayOf: req.params.id })
    } catch (e) {
      return sendError(reply, e)
    }
  })
  app.delete<{ Params: { id: string } }>('/system/async-calls/:id', async (req, reply) => {
    try {
      await opts.queue.cancel(req.params.id)
      return reply.code(202).send()
    } catch (e) {
      return sendError(reply, e)
    }
  })
}
