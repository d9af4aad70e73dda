// GET /system/logs: NDJSON of a function's output and kindling's messages about it, one
// {name, namespace, instance, timestamp, text} per line; with follow=true the stream stays open.
import type { FastifyInstance } from 'fastify'
import { KindlingError } from '../../errors.js'
import type { LogHub, LogMessage } from '../../logs.js'
import { functionKey, splitQualifiedName, validateName, validateNamespace } from '../../names.js'
import type { Registry } from '../../registry/registry.js'
import { sendError } from '../reply.js'

interface LogQuery {
  name?: string
  namespace?: string
  instance?: string
  since?: string
  tail?: string
  follow?: string
}

export function registerLogRoutes(app: FastifyInstance, opts: { logs: LogHub; registry: Registry; namespaces: readonly string[]; defaultNamespace: string }): void {
  app.get<{ Querystring: LogQuery }>('/system/logs', async (req, reply) => {
    let key: string
    let follow: boolean
    let since: Date | undefined
    let tail: number | undefined
    const q = req.query
    try {
      if (!q.name) throw new KindlingError('KINDLING_ERR_MISSING_FIELD', 'the name query parameter is required')
      const split = splitQualifiedName(q.name, q.namespace || opts.defaultNamespace)
      const name = validateName(split.name)
      const namespace = validateNamespace(split.namespace, opts.namespaces)
      key = functionKey(name, namespace)
      if (q.since) {
        since = new Date(q.since)
        if (Number.isNaN(since.getTime())) throw new KindlingError('KINDLING_ERR_INVALID_QUERY', `since=${q.since} is not an RFC3339 time`)
      }
      if (q.tail !== undefined && q.tail !== '') {
        if (!/^-?\d+$/.test(q.tail)) throw new KindlingError('KINDLING_ERR_INVALID_QUERY', `tail=${q.tail} is not an integer`)
        tail = Number(q.tail)
      }
      if (q.follow !== undefined && !/^(true|false|1|0|)$/.test(q.follow)) throw new KindlingError('KINDLING_ERR_INVALID_QUERY', `follow=${q.follow} is not a boolean`)
      follow = q.follow === 'true' || q.follow === '1'
      if (!opts.registry.get(name, namespace) && !opts.logs.has(key)) {
        throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in namespace ${namespace}`)
      }
    } catch (e) {
      return sendError(reply, e)
    }
    const matches = (m: LogMessage) => !q.instance || m.instance === q.instance
    const line = (m: LogMessage) => JSON.stringify({ name: m.name, namespace: m.namespace, instance: m.instance, timestamp: m.timestamp, text: m.text }) + '\n'
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' })
    // a follower (the dashboard, logs -f) sees the stream open now, not at the function's first line
    res.flushHeaders()
    for (const m of opts.logs.read(key, { since, tail })) if (matches(m)) res.write(line(m))
    if (!follow) {
      res.end()
      return
    }
    const stop = opts.logs.follow(key, (m) => {
      if (matches(m)) res.write(line(m))
    })
    // the response's close fires when the client goes away (the request's fires once it is read)
    res.on('close', stop)
  })
}
