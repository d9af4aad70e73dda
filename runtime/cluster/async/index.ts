// The cluster's async calls on one node: every node opens the streams and buckets; a node that
// serves the API queues calls into them, a node that runs calls pulls and runs them.
import type { CallbackPolicy } from '../../async/callback-policy.js'
import type { WorkerSettings } from '../../async/worker.js'
import type { LogHub } from '../../logs.js'
import type { Metrics } from '../../metrics.js'
import type { Dispatcher } from '../../pool/dispatcher.js'
import type { Registry } from '../../registry/registry.js'
import type { ClusterNode } from '../node.js'
import { ClusterAsyncQueue } from './queue.js'
import { openAsync } from './setup.js'
import { ClusterAsyncWorker } from './worker.js'

export interface ClusterAsync {
  queue: ClusterAsyncQueue
  worker: ClusterAsyncWorker | undefined
  close(): Promise<void>
}

export async function startClusterAsync(node: ClusterNode, deps: {
  registry: Registry
  dispatcher: Dispatcher
  callbackPolicy: CallbackPolicy
  metrics: Metrics
  logs: LogHub
  settings: WorkerSettings & { maxQueued: number; ackWaitMs: number }
}): Promise<ClusterAsync> {
  const { settings } = deps
  const h = await openAsync(node.link, { maxQueued: settings.maxQueued, retentionMs: settings.retentionMs, ackWaitMs: settings.ackWaitMs })
  const queue = new ClusterAsyncQueue({ link: node.link, h, callbackPolicy: deps.callbackPolicy, logs: deps.logs, metrics: deps.metrics })
  const worker = node.runsCalls
    ? new ClusterAsyncWorker({ nodeId: node.id, h, registry: deps.registry, dispatcher: deps.dispatcher, policy: deps.callbackPolicy, metrics: deps.metrics, logs: deps.logs, settings, ackWaitMs: settings.ackWaitMs, alive: (id) => node.membership.nodes().some((n) => n.id === id) })
    : undefined
  worker?.start()
  return { queue, worker, close: async () => void (await worker?.close()) }
}
