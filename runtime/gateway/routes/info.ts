// /healthz, /metrics, /system/info, /system/namespaces and the Enterprise-only namespace CRUD (501).
import type { FastifyInstance } from 'fastify'
import os from 'node:os'
import { KindlingError } from '../../errors.js'
import type { Metrics } from '../../metrics.js'
import type { IsolationTier } from '../../../isolation/tier.js'
import { sendError } from '../reply.js'

export interface InfoRouteOptions {
  metrics: Metrics
  namespaces: readonly string[]
  tiers: readonly IsolationTier[]
  version: { release: string; sha: string }
}

/** Routes without auth: health and Prometheus metrics. */
export function registerPublicInfoRoutes(app: FastifyInstance, opts: Pick<InfoRouteOptions, 'metrics'>): void {
  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('OK'))
  app.get('/metrics', async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()))
}

/** /system/info, /system/namespaces and namespace CRUD (behind basic auth). */
export function registerSystemInfoRoutes(app: FastifyInstance, opts: InfoRouteOptions): void {
  app.get('/system/namespaces', async () => opts.namespaces)
  app.get('/system/info', async () => {
    const version = { commit_message: '', sha: opts.version.sha, release: opts.version.release }
    return {
      provider: { provider: 'kindling', orchestration: 'kindling', version },
      version,
      arch: os.arch() === 'x64' ? 'x86_64' : os.arch(),
      tiers: opts.tiers.map((t) => ({ name: t.name, available: t.unavailableReason() === null, reason: t.unavailableReason() ?? undefined, capabilities: t.capabilities })),
    }
  })
  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE'],
    url: '/system/namespace/:name',
    handler: async (_req, reply) => sendError(reply, new KindlingError('KINDLING_ERR_NOT_IMPLEMENTED', 'namespace management is not available')),
  })
}
