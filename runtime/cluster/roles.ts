// What a node's role changes. A gateway-only node validates and stores deploys but prepares and runs
// nothing (no tiers, no app hosts): its prepare hook only checks what a worker would need. A
// worker-only node serves no public API: only /healthz and the internal routes between nodes
// (/_kindling/..., which authenticate themselves). And what /healthz and /system/info say of the
// node and the cluster.
import type { FastifyInstance } from 'fastify'
import { KindlingError } from '../errors.js'
import { sendError } from '../gateway/reply.js'
import { WASM_IMAGE } from '../registry/artifacts.js'
import type { ArtifactStore } from '../registry/registry-storage.js'
import type { PrepareHook } from '../registry/registry.js'
import type { NodeRecord } from './membership.js'
import type { ClusterNode } from './node.js'

/** paths a worker-only node answers; everything else is 404 there */
export const WORKER_PATHS = ['/healthz']
export const INTERNAL_PREFIX = '/_kindling/'

/** A gateway-only node's prepare hook: the module must be there; nothing is compiled or started. */
export function gatewayPrepareHook(artifacts: ArtifactStore): PrepareHook {
  return async (v) => {
    const digest = WASM_IMAGE.exec(v.stored.deployment.image)?.[1]
    if (digest !== undefined && !artifacts.get(digest)) throw new KindlingError('KINDLING_ERR_ARTIFACT_NOT_FOUND', `no artifact ${digest} has been uploaded`)
  }
}

/** A worker-only node's public port: /healthz and the internal routes, nothing else. */
export function limitToWorkerRoutes(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    const p = req.url.split('?')[0]!
    if (WORKER_PATHS.includes(p) || p.startsWith(INTERNAL_PREFIX)) return
    return sendError(reply, new KindlingError('KINDLING_ERR_ROUTE_NOT_FOUND', `${req.method} ${p} (this node is a cluster worker: gateways serve the API)`))
  })
}

/** This node as /healthz and /system/info show it. */
export interface ClusterStatus {
  node: Omit<NodeRecord, 'sentAt'> & { nats: { connected: boolean; lastProblem?: string } }
  /** the live nodes of the cluster (gateways list them) */
  nodes?: NodeRecord[]
}

export function clusterStatus(cluster: ClusterNode, self: () => Omit<NodeRecord, 'id' | 'role' | 'startedAt' | 'sentAt'>, startedAt: string): ClusterStatus {
  const s: ClusterStatus = {
    node: { id: cluster.id, role: cluster.role, ...self(), startedAt, nats: { connected: cluster.link.connected(), lastProblem: cluster.link.lastProblem() } },
  }
  if (cluster.servesApi) s.nodes = cluster.membership.nodes().sort((a, b) => a.id.localeCompare(b.id))
  return s
}

/** The lines /healthz adds for a cluster node (a probe reads only the status, an operator the text). */
export function healthLines(s: ClusterStatus): string[] {
  const n = s.node
  const warm = Object.values(n.warm).reduce((a, b) => a + b, 0)
  return [
    `node ${n.id} (${n.role}): tiers ${n.tiers.join(', ') || 'none'}, ${warm} warm sandboxes, ${n.inflight} calls running, load ${n.load.toFixed(2)}`,
    n.nats.connected ? 'NATS: connected' : `NATS: disconnected (${n.nats.lastProblem ?? 'reconnecting'}); serving what this node has, API changes answer 503`,
  ]
}
