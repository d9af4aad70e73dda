// Creates (or brings up to date) the streams, the shared consumer and the buckets of the cluster's
// async calls. Every node runs it at start; creating what exists with the same settings is a no-op,
// and a node started with other limits updates them.
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { type KV, Kvm } from '@nats-io/kv'
import { type ObjectStore, Objm } from '@nats-io/obj'
import { nanos } from '@nats-io/transport-node'
import type { ClusterLink } from '../connect.js'
import { ASYNC_STREAM, ASYNC_SUBJECTS, BODIES_BUCKET, CALLS_BUCKET, DEAD_STREAM, DEAD_SUBJECTS, WORKERS_CONSUMER } from './names.js'

export interface AsyncLimits {
  /** KINDLING_ASYNC_MAX_QUEUED: calls waiting in the work-queue stream; beyond, a publish is refused (429) */
  maxQueued: number
  /** KINDLING_ASYNC_RETENTION_MS: how long a call's status stays readable (0 = forever) */
  retentionMs: number
  ackWaitMs: number
}

export interface AsyncHandles {
  js: JetStreamClient
  jsm: JetStreamManager
  calls: KV
  bodies: ObjectStore
}

async function ensureStream(jsm: JetStreamManager, cfg: Parameters<JetStreamManager['streams']['add']>[0] & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(cfg.name)
    await jsm.streams.update(cfg.name, cfg)
  } catch (e) {
    if (!/not found/i.test((e as Error).message)) throw e
    // two nodes starting at once: the second add finds it and updates instead
    await jsm.streams.add(cfg).catch(() => jsm.streams.update(cfg.name, cfg))
  }
}

export async function openAsync(link: ClusterLink, limits: AsyncLimits): Promise<AsyncHandles> {
  const jsm = await jetstreamManager(link.nc)
  await ensureStream(jsm, {
    name: ASYNC_STREAM,
    subjects: [ASYNC_SUBJECTS],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_msgs: limits.maxQueued,
    discard: DiscardPolicy.New,
    // an accept retried by the gateway with the same call id is stored once
    duplicate_window: nanos(120_000),
  })
  await ensureStream(jsm, {
    name: DEAD_STREAM,
    subjects: [DEAD_SUBJECTS],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs: limits.maxQueued,
    discard: DiscardPolicy.Old,
    allow_direct: true,
  })
  const consumer = {
    durable_name: WORKERS_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(limits.ackWaitMs),
    // attempts are counted in the call's status with its com.openfaas.retry.* policy, not here
    max_deliver: -1,
    max_ack_pending: Math.max(1000, Math.min(limits.maxQueued, 100_000)),
    filter_subject: ASYNC_SUBJECTS,
  }
  await jsm.consumers.add(ASYNC_STREAM, consumer).catch(() => jsm.consumers.update(ASYNC_STREAM, WORKERS_CONSUMER, { ack_wait: consumer.ack_wait, max_ack_pending: consumer.max_ack_pending }))
  const calls = await new Kvm(link.nc).create(CALLS_BUCKET, { history: 1, ...(limits.retentionMs > 0 ? { ttl: limits.retentionMs } : {}) })
  const bodies = await new Objm(link.nc).create(BODIES_BUCKET, { storage: StorageType.File })
  return { js: jetstream(link.nc), jsm, calls, bodies }
}
