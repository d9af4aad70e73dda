// The composition root: opens the data dir, builds the registry, the tiers, the dispatcher and
// the gateway, wires them together (the registry gets the tiers' classifier; the dispatcher
// listens to the registry), and tears them down again. Tests and the CLI both start kindling through here.
import type { FastifyInstance } from 'fastify'
import os from 'node:os'
import path from 'node:path'
import { AsyncQueue } from './async/queue.js'
import { registerAsyncCallRoutes, registerAsyncInvokeRoutes } from './async/routes.js'
import { type Config, namespacesOf } from './config.js'
import { deployExamplesOnce } from './examples.js'
import { type Credentials, loadOrCreateCredentials } from './gateway/auth.js'
import { openFileLimit, resolveMaxConnections } from './gateway/connections.js'
import { InflightBytes } from './gateway/inflight.js'
import { buildGateway } from './gateway/server.js'
import { LogJournal } from './log-journal.js'
import { LogHub } from './logs.js'
import { Metrics } from './metrics.js'
import { UsageMeter } from './usage/meter.js'
import { registerUsageRoutes } from './usage/routes.js'
import { registerKvRoutes } from './kv/routes.js'
import { SqliteKvAdmin } from '../isolation/wasm/host/kv-admin.js'
import { JetStreamKvAdmin } from '../isolation/wasm/host/kv-jetstream-admin.js'
import { UsageStore } from './usage/store.js'
import { OtlpExporter } from './tracing/otlp.js'
import { Tracer } from './tracing/tracer.js'
import { Dispatcher } from './pool/dispatcher.js'
import { FileArtifactStore } from './registry/artifacts.js'
import { type Db, openDatabase } from './registry/db.js'
import { makeDataDirPrivate } from './registry/private.js'
import type { ArtifactStore, SecretValueStore } from './registry/registry-storage.js'
import { Registry } from './registry/registry.js'
import { loadOrCreateSecretKey, secretKeyFileOf } from './registry/secret-key.js'
import { SqliteRegistryStorage } from './registry/sqlite-storage.js'
import { Storage } from './registry/storage.js'
import { STORAGE_DECORATOR } from './gateway/routes/info.js'
import { isStorageFullError, KindlingError } from './errors.js'
import { readVersion, REPO_ROOT } from './version.js'
import { closeSharedHosts, createTiers } from './tiers.js'
import { classifyArtifact } from '../isolation/wasm/classify.js'
import { applyWasmV8Flags } from '../isolation/wasm/v8-flags.js'
import { type ClusterNode, joinCluster } from './cluster/node.js'
import { type ClusterAsync, startClusterAsync } from './cluster/async/index.js'
import { type ClusterCalls, startClusterCalls } from './cluster/calls/start.js'
import { clusterStatus, gatewayPrepareHook, workerGuard } from './cluster/roles.js'
import { ClusterState } from './cluster/state.js'
import { type StateSync, startStateSync } from './cluster/state-sync.js'
import { CLUSTER_DECORATOR } from './gateway/routes/info.js'
import type { IsolationTier, TierName } from '../isolation/tier.js'
import { Triggers } from './triggers/triggers.js'

export interface Kindling {
  config: Config
  app: FastifyInstance
  /** deployments, artifacts and secrets */
  registry: Registry
  /** the pools and the call path */
  dispatcher: Dispatcher
  tiers: ReadonlyMap<TierName, IsolationTier>
  credentials: Credentials | undefined
  artifacts: ArtifactStore
  secrets: SecretValueStore
  logs: LogHub
  asyncQueue: AsyncQueue
  /** usage per function (issue 13) */
  usage: UsageMeter
  db: Db
  /** the data dir's free space and degraded mode */
  storage: Storage
  /** request body bytes held by calls now, and their bound (async routes can reserve from it too) */
  inflight: InflightBytes
  /** most open client connections, and the open-file limit it was derived from */
  connectionLimit: { max: number; fdSoftLimit: number | undefined }
  /** this node's cluster membership when KINDLING_NATS_URL is set; undefined on the embedded single node */
  cluster: ClusterNode | undefined
  /** cron schedules and NATS subjects (issue 13, item 4); undefined with KINDLING_TRIGGERS=false */
  triggers: Triggers | undefined
  /** the gateway's base URL once listening */
  url: string | undefined
  listen(): Promise<string>
  close(): Promise<void>
}

export async function createKindling(config: Config): Promise<Kindling> {
  applyWasmV8Flags() // the inline tier compiles function code in this process
  const dataDir = config.dataDirAbs
  const say = (m: string) => void process.stderr.write(`kindling: ${m}\n`)
  const fixed = makeDataDirPrivate(dataDir)
  if (fixed.length) say(`the data dir ${dataDir} was open to other users; made it private (dirs 0700, files 0600): ${fixed.join(', ')}`)
  const storage = new Storage(dataDir, { minFreeBytes: config.storageMinFreeBytes, checkIntervalMs: config.storageCheckIntervalMs })
  // known before anything else writes: a start on a full disk starts degraded
  storage.start()
  // a cluster node connects first: an unreachable NATS stops the start with an error naming it
  let cluster: ClusterNode | undefined
  try {
    cluster = config.natsUrl ? await joinCluster(config) : undefined
  } catch (e) {
    storage.close()
    throw e
  }
  const db = openDatabase(dataDir, storage)
  const registryStorage = new SqliteRegistryStorage(db, secretKeyOf(dataDir))
  const artifacts = new FileArtifactStore(registryStorage.artifacts, dataDir)
  const secrets = registryStorage.secrets
  // cluster: state (A) — the cluster's copy of the registry, written before this node's
  let clusterState: ClusterState | undefined
  try {
    clusterState = cluster && (await ClusterState.open(cluster.link, cluster.key, artifacts, { dataDir, runsCalls: cluster.runsCalls }))
  } catch (e) {
    await cluster!.close()
    db.close()
    storage.close()
    throw new KindlingError('KINDLING_ERR_CLUSTER_UNAVAILABLE', `the cluster's state buckets cannot be opened in NATS at ${config.natsUrl} (is JetStream enabled: nats-server -js?): ${(e as Error).message}`)
  }
  try {
    const sealed = secrets.sealClearRows()
    if (sealed) say(`${sealed} secret${sealed === 1 ? ' was' : 's were'} stored in clear text by an older kindling; now sealed with the key in ${path.join(dataDir, 'secrets')}`)
  } catch (e) {
    if (!isStorageFullError(e) && !storage.failedFull(e)) throw e
    say('secrets stored in clear text by an older kindling could not be sealed for lack of space; they will be at the next start')
  }
  if (!secrets.keyOpens()) say(`secret values do not open with ${secretKeyFileOf(dataDir)} (lost or replaced?): restore it from a backup, or set the secrets again with PUT /system/secrets`)
  const logs = new LogHub(2000, config.logFileMaxBytes > 0 ? new LogJournal(path.join(dataDir, 'logs'), config.logFileMaxBytes) : undefined)
  const credentials = config.basicAuth ? loadOrCreateCredentials(dataDir) : undefined
  const namespaces = namespacesOf(config)

  const registry = new Registry({
    storage: registryStorage,
    artifacts,
    defaults: {
      namespaces,
      defaultNamespace: config.defaultNamespace,
      execTimeoutMs: config.execTimeoutMs,
      memoryMiB: config.memoryMiB,
      maxReplicas: config.maxReplicas,
      maxReplicasCap: config.maxReplicasCap,
      queueDepth: config.queueDepth,
    },
    // what an upload is, found by the wasm tier's code: the registry does not know the tiers
    classify: classifyArtifact,
    log: (key, text) => logs.write({ key, instance: 'gateway', stream: 'system', text }),
    shared: clusterState,
  })

  // built below; the metrics read them lazily
  let dispatcher: Dispatcher | undefined
  let asyncQueue: AsyncQueue | undefined
  // cluster: roles (A) — a gateway-only node starts no tier and no app host
  const tiers = cluster && !cluster.runsCalls ? new Map<TierName, IsolationTier>() : await createTiers(config, {
    dataDir,
    readSecret: (ns, name) => secrets.read(ns, name),
    // messages about an app host (key "app:<application>") go to every function of that application
    log: (e) => {
      if (!e.key.startsWith('app:')) return logs.write(e)
      const app = e.key.slice(4)
      for (const v of registry.list()) if (v.settings.app === app) logs.write({ ...e, key: v.key })
    },
  })
  // usage (issue 13): per-function usage, written to SQLite in batches
  const usage = new UsageMeter(new UsageStore(db), { flushMs: config.usageFlushMs, retentionMs: config.usageRetentionMs })
  // tracing (issue 13): spans go out only when a collector is configured
  const otlp = config.otlpEndpoint
    ? new OtlpExporter({ endpoint: config.otlpEndpoint, maxQueue: 4096, batchSize: 512, flushMs: config.otlpFlushMs, timeoutMs: config.otlpTimeoutMs, serviceName: 'kindling' })
    : undefined
  const metrics = new Metrics({
    // deployed functions only, as the other per-function series (a removed one keeps its history)
    usage: () => [...usage.totals()].filter((u) => dispatcher?.getByKey(u.key)),
    tracing: otlp && (() => otlp),
    functions: () => (dispatcher?.list() ?? []).map((f) => {
      const s = f.pool?.stats
      return { functionName: f.key, tier: f.tier.name, desired: s?.desired ?? 0, available: s?.available ?? 0, idle: s?.idle ?? 0, busy: s?.busy ?? 0, starting: s?.starting ?? 0, queued: s?.queued ?? 0 }
    }),
    asyncDepth: () => asyncQueue?.depth() ?? {},
    appHostRestarts: () => {
      const wasm = tiers.get('wasm') as { hosts?: { restarts: number } } | undefined
      return wasm?.hosts?.restarts ?? 0
    },
  })
  dispatcher = new Dispatcher({
    registry,
    tiers,
    metrics,
    logs,
    sandboxIdleMs: config.sandboxIdleMs,
    queueWaitMs: config.queueWaitMs,
    sandboxStartConcurrency: config.sandboxStartConcurrency,
    autoscale: { windowMs: config.autoscaleWindowMs, fireAfterMs: config.autoscaleFireAfterMs },
    usage,
    tracer: new Tracer(otlp),
  })
  // cluster: roles (A) — a gateway-only node checks deploys but prepares nothing
  if (cluster && !cluster.runsCalls) registry.setPrepareHook(gatewayPrepareHook(artifacts))
  await registry.load()
  dispatcher.start()
  // cluster: calls (a gateway places /function calls on workers; a worker takes them over HTTP and NATS)
  const inflight = new InflightBytes(config.maxInflightBytes)
  const calls: ClusterCalls | undefined = cluster ? startClusterCalls({ cluster, config, registry, dispatcher, inflight }) : undefined
  // cluster: state (A) — catch up from the cluster's current state, then follow it
  let stateSync: StateSync | undefined
  if (cluster && clusterState) stateSync = await startStateSync(clusterState, registry, cluster.key, say)
  asyncQueue = new AsyncQueue({
    db,
    registry,
    dispatcher,
    invoker: calls?.router,
    metrics,
    logs,
    settings: {
      concurrency: config.asyncConcurrency,
      maxQueued: config.asyncMaxQueued,
      retryDefaults: {
        attempts: config.asyncRetryAttempts,
        codes: new Set(config.asyncRetryCodes.map(Number)),
        minWaitMs: config.asyncRetryMinWaitMs,
        maxWaitMs: config.asyncRetryMaxWaitMs,
      },
      callbackAttempts: config.asyncCallbackAttempts,
      callbackTimeoutMs: config.asyncCallbackTimeoutMs,
      callbackRetryMs: config.asyncCallbackRetryMs,
      callbackConcurrency: config.asyncCallbackConcurrency,
      callbackPerHost: config.asyncCallbackPerHost,
      callbackAllow: config.callbackAllow,
      retentionMs: config.asyncRetentionMs,
    },
  })
  if (config.deployExamples && (cluster?.servesApi ?? true)) await deployExamplesOnce(db, registry, (m) => process.stderr.write(`kindling: ${m}\n`))
  // cluster: async calls (helper C) go through JetStream instead of this node's SQLite queue
  let clusterAsync: ClusterAsync | undefined
  if (cluster) {
    try {
      clusterAsync = await startClusterAsync(cluster, {
        registry, dispatcher, callbackPolicy: asyncQueue.callbackPolicy, metrics, logs,
        settings: { ...asyncQueue.settings, ackWaitMs: config.clusterAsyncAckWaitMs },
      })
    } catch (e) {
      stateSync?.stop()
      await dispatcher.close()
      await Promise.all([...tiers.values()].map((t) => t.close()))
      await closeSharedHosts(tiers)
      await logs.close()
      await cluster.close()
      db.close()
      storage.close()
      throw new KindlingError('KINDLING_ERR_CLUSTER_UNAVAILABLE', `the async call streams cannot be set up in NATS at ${config.natsUrl}: ${(e as Error).message}`)
    }
  }
  const asyncCalls = clusterAsync?.queue ?? asyncQueue

  // the open-file limit bounds how many clients can be connected at once
  const fdLimit = openFileLimit()
  const connectionLimit = resolveMaxConnections(config.maxConnections, fdLimit?.soft)
  if (connectionLimit.note) process.stderr.write(`kindling: ${connectionLimit.note}\n`)
  const kvLimits = { maxKeyBytes: config.kvMaxKeyBytes, maxValueBytes: config.kvMaxValueBytes, maxStoreBytes: config.kvMaxStoreBytes }
  // a cluster's stores are in JetStream KV (the functions' backend there): the operator API reads them
  // over this node's NATS connection (a worker-only node serves no /system routes; it connects only when used)
  const kvAdmin = cluster ? new JetStreamKvAdmin(cluster.link.nc, kvLimits, { timeoutMs: config.kvClusterTimeoutMs }) : new SqliteKvAdmin(path.join(dataDir, 'kv'), kvLimits)
  const app = buildGateway({
    registry,
    dispatcher,
    invoker: calls?.router,
    logs,
    metrics,
    tiers: [...tiers.values()],
    namespaces,
    defaultNamespace: config.defaultNamespace,
    credentials,
    // cluster: roles (A) — a worker serves no API
    guard: cluster && !cluster.servesApi ? workerGuard : undefined,
    maxBodyBytes: config.maxBodyBytes,
    maxUploadBytes: config.maxUploadBytes,
    maxSecretBytes: config.maxSecretBytes,
    inflight,
    connections: { headersTimeoutMs: config.headersTimeoutMs, requestTimeoutMs: config.requestTimeoutMs, keepAliveTimeoutMs: config.keepAliveTimeoutMs, maxConnections: connectionLimit.max },
    version: readVersion(),
    dashboardDir: config.dashboard ? path.resolve(config.dashboardDir || path.join(REPO_ROOT, 'dist', 'ui')) : undefined,
    benchResultsDir: path.resolve(config.benchResultsDir || path.join(REPO_ROOT, 'bench', 'results')),
    extraRoutes: {
      public: (a) => {
        registerAsyncInvokeRoutes(a, { queue: asyncCalls, registry, defaultNamespace: config.defaultNamespace, maxBodyBytes: config.maxBodyBytes, inflight, servedBy: `kindling/${readVersion().release}` })
        calls?.registerRoutes(a) // cluster: calls
      },
      system: (a) => {
        registerAsyncCallRoutes(a, { queue: asyncCalls })
        registerUsageRoutes(a, { usage, namespaces }) // usage (issue 13)
        // key-value stores (issue 13 item 2): the operator's API over this node's store files, or the cluster's JetStream KV
        registerKvRoutes(a, { admin: kvAdmin, limits: kvLimits, namespaces, defaultNamespace: config.defaultNamespace })
      },
    },
  })
  // /healthz and /system/info report degraded mode
  app.decorate(STORAGE_DECORATOR, storage)
  // cluster: roles (A) — /healthz and /system/info say what this node is
  const startedAt = new Date().toISOString()
  if (cluster) app.decorate(CLUSTER_DECORATOR, { status: () => clusterStatus(cluster, () => describeNode(k.url ?? '', k), startedAt) })
  // after the examples: calls left by a previous run find their functions deployed
  asyncQueue.start()
  // triggers (issue 13, item 4): cron ticks and NATS messages become async calls, through the cluster's queue in a cluster
  let triggers: Triggers | undefined
  try {
    triggers = config.triggers ? await Triggers.start({ registry, queue: asyncCalls, metrics, logs, link: cluster?.link, nodeId: cluster?.id, maxBodyBytes: config.maxBodyBytes }) : undefined
  } catch (e) {
    say(`triggers could not be started (cron schedules and NATS subjects will not fire on this node): ${(e as Error).message}`)
  }

  const k: Kindling = {
    config,
    app,
    registry,
    dispatcher,
    tiers,
    credentials,
    artifacts,
    secrets,
    logs,
    asyncQueue,
    usage,
    db,
    storage,
    inflight,
    connectionLimit: { max: connectionLimit.max, fdSoftLimit: fdLimit?.soft },
    cluster,
    triggers,
    url: undefined,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port })
      k.url = address
      // cluster: roles (A) — what the others dial: the operator's URL when this node listens on all addresses
      await cluster?.announce(() => describeNode(config.advertiseUrl || address, k))
      return address
    },
    async close() {
      // cluster: state (A) — no more changes from the others while this node shuts down
      stateSync?.stop()
      triggers?.close() // triggers (issue 13, item 4): no new deliveries
      // calls in flight get a grace period; a connection that never sends a request does not
      // hold the shutdown past it
      const force = setTimeout(() => app.server.closeAllConnections(), config.closeGraceMs)
      await app.close()
      kvAdmin.close() // key-value stores (issue 13 item 2)
      clearTimeout(force)
      await calls?.close() // cluster: calls (NATS calls under way finish first)
      // state changes waiting for space give up: their calls run again at the next start
      storage.close()
      // calls under way finish (their results are stored) before the pools go away
      await asyncQueue!.close()
      await clusterAsync?.close() // cluster: async (helper C)
      await dispatcher.close()
      // usage (issue 13): the minutes not written yet (storage is closed: a full disk loses them)
      try {
        usage.close()
      } catch (e) {
        say(`usage of the last seconds could not be written: ${(e as Error).message}`)
      }
      await otlp?.close() // tracing (issue 13): the spans still queued
      await Promise.all([...tiers.values()].map((t) => t.close()))
      await closeSharedHosts(tiers)
      await logs.close()
      await cluster?.close()
      db.close()
    },
  }
  return k
}

/** What this node tells the cluster about itself in each heartbeat. */
function describeNode(url: string, k: Kindling) {
  const runs = k.cluster?.runsCalls ?? true
  const warm: Record<string, number> = {}
  let inflight = 0
  for (const f of k.dispatcher.list()) {
    const s = f.pool?.stats
    if (!s) continue
    if (s.idle > 0) warm[f.key] = s.idle
    inflight += s.busy
  }
  return {
    url,
    tiers: runs ? [...k.tiers.values()].filter((t) => !t.unavailableReason()).map((t) => t.name) : [],
    warm,
    inflight,
    load: os.loadavg()[0]! / Math.max(1, os.availableParallelism()),
  }
}

/**
 * The secrets' sealing key, loaded at start when it exists (a damaged key file stops the start),
 * else made on first use: a start on a full disk does not need to write it.
 */
function secretKeyOf(dataDir: string): () => Buffer {
  let key: Buffer | undefined
  const load = () => (key ??= loadOrCreateSecretKey(dataDir))
  try {
    load()
  } catch (e) {
    if (!isStorageFullError(e)) throw e
  }
  return load
}

/** Where the basic-auth password lives, for the start-up message and the CLI. */
export function passwordFileOf(dataDir: string): string {
  return path.join(dataDir, 'secrets', 'basic-auth-password')
}
