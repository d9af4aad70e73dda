// The composition root: opens the data dir, builds the tiers, the function manager and the
// gateway, and tears them down again. Tests and the CLI both start kindling through here.
import type { FastifyInstance } from 'fastify'
import fs from 'node:fs'
import path from 'node:path'
import { AsyncQueue } from './async/queue.js'
import { registerAsyncCallRoutes, registerAsyncInvokeRoutes } from './async/routes.js'
import { type Config, namespacesOf } from './config.js'
import { deployExamplesOnce } from './examples.js'
import { FunctionManager } from './functions.js'
import { type Credentials, loadOrCreateCredentials } from './gateway/auth.js'
import { openFileLimit, resolveMaxConnections } from './gateway/connections.js'
import { InflightBytes } from './gateway/inflight.js'
import { buildGateway } from './gateway/server.js'
import { LogJournal } from './log-journal.js'
import { LogHub } from './logs.js'
import { Metrics } from './metrics.js'
import { ArtifactStore } from './store/artifacts.js'
import { type Db, openDatabase } from './store/db.js'
import { FunctionStore } from './store/functions.js'
import { SecretStore } from './store/secrets.js'
import { readVersion } from './version.js'
import { closeSharedHosts, createTiers } from './tiers.js'
import { applyWasmV8Flags } from '../isolation/wasm/v8-flags.js'
import type { IsolationTier, TierName } from '../isolation/tier.js'

export interface Kindling {
  config: Config
  app: FastifyInstance
  functions: FunctionManager
  tiers: ReadonlyMap<TierName, IsolationTier>
  credentials: Credentials | undefined
  artifacts: ArtifactStore
  secrets: SecretStore
  logs: LogHub
  asyncQueue: AsyncQueue
  db: Db
  /** request body bytes held by calls now, and their bound (async routes can reserve from it too) */
  inflight: InflightBytes
  /** most open client connections, and the open-file limit it was derived from */
  connectionLimit: { max: number; fdSoftLimit: number | undefined }
  /** the gateway's base URL once listening */
  url: string | undefined
  listen(): Promise<string>
  close(): Promise<void>
}

/** How long close() waits for open HTTP connections before cutting them. */
const CLOSE_GRACE_MS = 2000

export async function createKindling(config: Config): Promise<Kindling> {
  applyWasmV8Flags() // the inline tier compiles function code in this process
  const dataDir = config.dataDirAbs
  fs.mkdirSync(dataDir, { recursive: true })
  const db = openDatabase(dataDir)
  const artifacts = new ArtifactStore(db, dataDir)
  const functionStore = new FunctionStore(db)
  const secrets = new SecretStore(db)
  const logs = new LogHub(2000, config.logFileMaxBytes > 0 ? new LogJournal(path.join(dataDir, 'logs'), config.logFileMaxBytes) : undefined)
  const credentials = config.basicAuth ? loadOrCreateCredentials(dataDir) : undefined
  const namespaces = namespacesOf(config)

  // built below; the tiers' log and the metrics read them lazily
  let functions: FunctionManager | undefined
  let asyncQueue: AsyncQueue | undefined
  const tiers = await createTiers(config, {
    dataDir,
    readSecret: (ns, name) => secrets.read(ns, name),
    // messages about an app host (key "app:<application>") go to every function of that application
    log: (e) => {
      if (!e.key.startsWith('app:')) return logs.write(e)
      const app = e.key.slice(4)
      for (const f of functions?.list() ?? []) if (f.settings.app === app) logs.write({ ...e, key: f.key })
    },
  })
  const metrics = new Metrics({
    functions: () => (functions?.list() ?? []).map((f) => {
      const s = f.pool?.stats
      return { functionName: f.key, tier: f.tier.name, desired: s?.desired ?? 0, available: s?.available ?? 0, idle: s?.idle ?? 0, busy: s?.busy ?? 0, starting: s?.starting ?? 0, queued: s?.queued ?? 0 }
    }),
    asyncDepth: () => asyncQueue?.depth() ?? {},
    appHostRestarts: () => {
      const wasm = tiers.get('wasm') as { hosts?: { restarts: number } } | undefined
      return wasm?.hosts?.restarts ?? 0
    },
  })
  functions = new FunctionManager({
    defaults: {
      namespaces,
      defaultNamespace: config.defaultNamespace,
      execTimeoutMs: config.execTimeoutMs,
      memoryMiB: config.memoryMiB,
      maxReplicas: config.maxReplicas,
      maxReplicasCap: config.maxReplicasCap,
      queueDepth: config.queueDepth,
    },
    tiers,
    functions: functionStore,
    artifacts,
    secrets,
    metrics,
    logs,
    sandboxIdleMs: config.sandboxIdleMs,
    queueWaitMs: config.queueWaitMs,
    sandboxStartConcurrency: config.sandboxStartConcurrency,
    autoscale: { windowMs: config.autoscaleWindowMs, fireAfterMs: config.autoscaleFireAfterMs },
  })
  await functions.start()
  asyncQueue = new AsyncQueue({
    db,
    functions,
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
      retentionMs: config.asyncRetentionMs,
    },
  })
  if (config.deployExamples) await deployExamplesOnce(db, artifacts, functions, (m) => process.stderr.write(`kindling: ${m}\n`))

  const inflight = new InflightBytes(config.maxInflightBytes)
  // the open-file limit bounds how many clients can be connected at once
  const fdLimit = openFileLimit()
  const connectionLimit = resolveMaxConnections(config.maxConnections, fdLimit?.soft)
  if (connectionLimit.note) process.stderr.write(`kindling: ${connectionLimit.note}\n`)
  const app = buildGateway({
    functions,
    artifacts,
    secrets,
    logs,
    metrics,
    tiers: [...tiers.values()],
    namespaces,
    defaultNamespace: config.defaultNamespace,
    credentials,
    maxBodyBytes: config.maxBodyBytes,
    maxUploadBytes: config.maxUploadBytes,
    maxSecretBytes: config.maxSecretBytes,
    inflight,
    connections: { headersTimeoutMs: config.headersTimeoutMs, requestTimeoutMs: config.requestTimeoutMs, keepAliveTimeoutMs: config.keepAliveTimeoutMs, maxConnections: connectionLimit.max },
    version: readVersion(),
    onSecretChange: (ns, name) => functions!.refreshSecret(ns, name),
    extraRoutes: {
      public: (a) => registerAsyncInvokeRoutes(a, { queue: asyncQueue!, functions: functions!, defaultNamespace: config.defaultNamespace, maxBodyBytes: config.maxBodyBytes, servedBy: `kindling/${readVersion().release}` }),
      system: (a) => registerAsyncCallRoutes(a, { queue: asyncQueue! }),
    },
  })
  // after the examples: calls left by a previous run find their functions deployed
  asyncQueue.start()

  const k: Kindling = {
    config,
    app,
    functions,
    tiers,
    credentials,
    artifacts,
    secrets,
    logs,
    asyncQueue,
    db,
    inflight,
    connectionLimit: { max: connectionLimit.max, fdSoftLimit: fdLimit?.soft },
    url: undefined,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port })
      k.url = address
      return address
    },
    async close() {
      // calls in flight get a grace period; a connection that never sends a request does not
      // hold the shutdown past it
      const force = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS)
      await app.close()
      clearTimeout(force)
      // calls under way finish (their results are stored) before the pools go away
      await asyncQueue!.close()
      await functions!.close()
      await Promise.all([...tiers.values()].map((t) => t.close()))
      await closeSharedHosts(tiers)
      await logs.close()
      db.close()
    },
  }
  return k
}

/** Where the basic-auth password lives, for the start-up message and the CLI. */
export function passwordFileOf(dataDir: string): string {
  return path.join(dataDir, 'secrets', 'basic-auth-password')
}
