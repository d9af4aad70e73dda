// /system/functions, /system/function/{name} and /system/scale-function/{name}: the OpenFaaS
// provider API for deployments, with namespaces accepted from the body or the query alike.
import type { FastifyInstance } from 'fastify'
import { KindlingError } from '../../errors.js'
import { splitQualifiedName, validateName, validateNamespace } from '../../names.js'
import type { Dispatcher } from '../../pool/dispatcher.js'
import type { Registry } from '../../registry/registry.js'
import { sendError } from '../reply.js'

export interface SystemFunctionRouteOptions {
  /** deploys, removes and scales */
  registry: Registry
  /** says what runs of each function */
  dispatcher: Dispatcher
  namespaces: readonly string[]
  defaultNamespace: string
}

type Query = { namespace?: string }

export function registerSystemFunctionRoutes(app: FastifyInstance, opts: SystemFunctionRouteOptions): void {
  const { registry, dispatcher, namespaces, defaultNamespace } = opts
  const ns = (q: string | undefined) => (q === undefined || q === '' ? defaultNamespace : validateNamespace(q, namespaces))

  app.get<{ Querystring: Query }>('/system/functions', async (req, reply) => {
    try {
      const namespace = ns(req.query.namespace)
      return reply.send(registry.list(namespace).map((v) => dispatcher.describe(v)))
    } catch (e) {
      return sendError(reply, e)
    }
  })

  const deploy = (mode: 'create' | 'update') => async (req: { body: unknown }, reply: import('fastify').FastifyReply) => {
    try {
      const version = await registry.deploy(req.body, mode)
      return reply.code(202).send(dispatcher.describe(version))
    } catch (e) {
      return sendError(reply, e)
    }
  }
  app.post('/system/functions', deploy('create'))
  app.put('/system/functions', deploy('update'))

  app.delete<{ Querystring: Query; Body: { functionName?: unknown; namespace?: unknown } | undefined }>('/system/functions', async (req, reply) => {
    try {
      const body = req.body ?? {}
      if (typeof body !== 'object' || body === null) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', 'the body must be {"functionName": "...", "namespace": "..."}')
      if (body.functionName === undefined || body.functionName === '') throw new KindlingError('KINDLING_ERR_MISSING_FIELD', 'functionName is required')
      const name = validateName(body.functionName)
      const namespace = ns((body.namespace as string | undefined) || req.query.namespace)
      await registry.remove(name, namespace)
      return reply.code(202).send()
    } catch (e) {
      return sendError(reply, e)
    }
  })

  app.get<{ Params: { name: string }; Querystring: Query & { usage?: string } }>('/system/function/:name', async (req, reply) => {
    try {
      const split = splitQualifiedName(req.params.name, req.query.namespace || defaultNamespace)
      const name = validateName(split.name)
      const namespace = ns(split.namespace)
      const version = registry.get(name, namespace)
      if (!version) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in namespace ${namespace}`)
      return reply.send(dispatcher.describe(version, true))
    } catch (e) {
      return sendError(reply, e)
    }
  })

  app.post<{ Params: { name: string }; Querystring: Query; Body: { serviceName?: unknown; replicas?: unknown; namespace?: unknown } | undefined }>(
    '/system/scale-function/:name',
    async (req, reply) => {
      try {
        const body = req.body
        if (typeof body !== 'object' || body === null) throw new KindlingError('KINDLING_ERR_MISSING_FIELD', 'the body must be {"serviceName": "...", "replicas": n}')
        const replicas = body.replicas
        if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
          throw new KindlingError('KINDLING_ERR_INVALID_FIELD', 'replicas must be an integer of at least 0')
        }
        const name = validateName(req.params.name)
        if (body.serviceName !== undefined && body.serviceName !== '' && body.serviceName !== name) {
          throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `serviceName ${JSON.stringify(body.serviceName)} does not match the URL's ${name}`)
        }
        const namespace = ns((body.namespace as string | undefined) || req.query.namespace)
        await registry.scale(name, namespace, replicas)
        return reply.code(202).send()
      } catch (e) {
        return sendError(reply, e)
      }
    },
  )
}
