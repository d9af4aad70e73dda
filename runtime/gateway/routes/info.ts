// /healthz, /metrics, /system/info, /system/namespaces and the Enterprise-only namespace CRUD (501).
// In degraded mode (the data dir is full, registry/storage.ts) /healthz still answers 200, since the
// gateway serves calls and a restart would not make space (a liveness probe must not restart it in
// a loop), with the header X-Kindling-Degraded and a line that says so; /system/info (behind auth)
// has a storage section with the reason. A cluster node adds its id, role, tiers, warm sandboxes,
// load and whether NATS is connected (header X-Kindling-Cluster: connected|disconnected), and
// /system/info on a gateway lists the cluster's live nodes.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import os from 'node:os'
import { KindlingError } from '../../errors.js'
import type { Metrics } from '../../metrics.js'
import type { StorageStatus } from '../../registry/storage.js'
import { type ClusterStatus, healthLines } from '../../cluster/roles.js'
import { sendError } from '../reply.js'

/** kindling.ts decorates the app with what reports the data dir's state under this name. */
export const STORAGE_DECORATOR = 'kindlingStorage'
export const DEGRADED_HEADER = 'x-kindling-degraded'
/** kindling.ts decorates a cluster node's app with what reports its cluster status under this name. */
export const CLUSTER_DECORATOR = 'kindlingCluster'
export const CLUSTER_HEADER = 'x-kindling-cluster'

function clusterStatus(req: FastifyRequest): ClusterStatus | undefined {
  return (req.server as unknown as Record<string, { status(): ClusterStatus } | undefined>)[CLUSTER_DECORATOR]?.status()
}

function storageStatus(req: FastifyRequest): StorageStatus | undefined {
  return (req.server as unknown as Record<string, { status(): StorageStatus } | undefined>)[STORAGE_DECORATOR]?.status()
}

/** What /system/info shows of a tier (an isolation tier has these). */
export interface TierInfo {
  readonly name: string
  readonly capabilities: unknown
  unavailableReason(): string | null
}

export interface InfoRouteOptions {
  metrics: Metrics
  namespaces: readonly string[]
  tiers: readonly TierInfo[]
  version: { release: string; sha: string }
}

/** Routes without auth: health and Prometheus metrics. */
export function registerPublicInfoRoutes(app: FastifyInstance, opts: Pick<InfoRouteOptions, 'metrics'>): void {
  app.get('/healthz', async (req, reply) => {
    const s = storageStatus(req)
    const c = clusterStatus(req)
    // a node without NATS still answers 200: it serves what it has, and a restart would not bring NATS back
    const tail = c ? `\n${healthLines(c).join('\n')}\n` : ''
    if (c) reply.header(CLUSTER_HEADER, c.node.nats.connected ? 'connected' : 'disconnected')
    if (!s?.degraded) return reply.type('text/plain').send(`OK${tail}`)
    // the reason (free bytes, the failed write) is for the operator: GET /system/info
    return reply.header(DEGRADED_HEADER, 'storage-full').type('text/plain').send(`OK, degraded: the data dir is full; async accepts, deploys, uploads and secret writes answer 507\n${tail.slice(1)}`)
  })
  app.get('/metrics', async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()))
}

/** /system/info, /system/namespaces and namespace CRUD (behind basic auth). */
export function registerSystemInfoRoutes(app: FastifyInstance, opts: InfoRouteOptions): void {
  app.get('/system/namespaces', async () => opts.namespaces)
  app.get('/system/info', async (req) => {
    const version = { commit_message: '', sha: opts.version.sha, release: opts.version.release }
    return {
      provider: { provider: 'kindling', orchestration: 'kindling', version },
      version,
      arch: os.arch() === 'x64' ? 'x86_64' : os.arch(),
      tiers: opts.tiers.map((t) => ({ name: t.name, available: t.unavailableReason() === null, reason: t.unavailableReason() ?? undefined, capabilities: t.capabilities })),
      storage: storageStatus(req),
      cluster: clusterStatus(req),
    }
  })
  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE'],
    url: '/system/namespace/:name',
    handler: async (_req, reply) => sendError(reply, new KindlingError('KINDLING_ERR_NOT_IMPLEMENTED', 'namespace management is not available')),
  })
}
