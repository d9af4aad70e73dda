// Wires sync calls into a cluster node (createKindling calls this when it joined a cluster): a worker
// serves the internal call route and its NATS subject; a gateway gets the router its /function
// route calls, over the transport the config names.
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.js'
import type { InflightBytes } from '../../gateway/inflight.js'
import type { Dispatcher } from '../../pool/dispatcher.js'
import type { Registry } from '../../registry/registry.js'
import type { ClusterNode } from '../node.js'
import { CallAuth } from './auth.js'
import { HttpTransport, registerCallRoute } from './http.js'
import { NatsTransport, serveNatsCalls } from './nats.js'
import { ClusterRouter } from './router.js'

export interface ClusterCalls {
  /** undefined on a worker-only node */
  router: ClusterRouter | undefined
  registerRoutes(app: FastifyInstance): void
  close(): Promise<void>
}

export function startClusterCalls(o: { cluster: ClusterNode; config: Config; registry: Registry; dispatcher: Dispatcher; inflight: InflightBytes }): ClusterCalls {
  const { cluster, config } = o
  const auth = new CallAuth(cluster.key)
  const worker = { dispatcher: o.dispatcher, nodeId: cluster.id, maxBodyBytes: config.maxBodyBytes, auth, inflight: o.inflight }
  const nats = cluster.runsCalls ? serveNatsCalls(cluster.link, worker) : undefined
  const router = cluster.servesApi
    ? new ClusterRouter({
        registry: o.registry,
        membership: cluster.membership,
        selfId: cluster.id,
        local: cluster.runsCalls ? o.dispatcher : undefined,
        transport: config.clusterTransport === 'nats' ? new NatsTransport(cluster.link, auth, cluster.id) : new HttpTransport(auth, Math.max(500, Math.floor(config.keepAliveTimeoutMs / 2))),
        queueWaitMs: config.queueWaitMs,
      })
    : undefined
  return {
    router,
    registerRoutes(app) {
      if (cluster.runsCalls) registerCallRoute(app, worker)
    },
    async close() {
      router?.close()
      await nats?.close()
    },
  }
}
