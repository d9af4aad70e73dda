// The deployed functions, live: validates and persists deployments, prepares them on their tier,
// keeps one pool per function and routes calls to it. Deploy, update and remove of one function
// are serialised; calls never wait for them (they see the old or the new version).
import { randomUUID } from 'node:crypto'
import { asKindlingError, KindlingError } from './errors.js'
import type { LogHub } from './logs.js'
import type { FunctionMetrics, Metrics } from './metrics.js'
import { functionKey } from './names.js'
import { FunctionPool } from './pool/pool.js'
import { type Deployment, type FunctionSettings, isWasmImage, parseDeployment, settingsOf, type SpecDefaults, functionStatus } from './spec.js'
import { WASM_IMAGE } from './registry/artifacts.js'
import type { ArtifactStore, RegistryStorage, StoredFunction } from './registry/registry-storage.js'
import type { ArtifactKind, FunctionArtifact, InvokeRequest, InvokeResult, IsolationTier, Prepared, TierName } from '../isolation/tier.js'
import type { ColdStart } from './pool/pool.js'
import { Autoscaler } from './pool/autoscaler.js'

export interface LiveFunction {
  key: string
  stored: StoredFunction
  settings: FunctionSettings
  tier: IsolationTier
  prepared: Prepared | undefined
  pool: FunctionPool | undefined
  /** why the function cannot run right now (prepare failed at start-up) */
  error: KindlingError | undefined
  metrics: FunctionMetrics
}

export interface FunctionManagerDeps {
  defaults: SpecDefaults
  tiers: ReadonlyMap<TierName, IsolationTier>
  storage: RegistryStorage
  artifacts: ArtifactStore
  metrics: Metrics
  logs: LogHub
  sandboxIdleMs: number
  queueWaitMs: number
  /** sandboxes one pool starts at once */
  sandboxStartConcurrency: number
  autoscale: { windowMs: number; fireAfterMs: number }
}

export class FunctionManager {
  private readonly live = new Map<string, LiveFunction>()
  private readonly locks = new Map<string, Promise<unknown>>()
  private ticker: NodeJS.Timeout | undefined
  private closed = false
  private readonly autoscaler: Autoscaler
  /** asynchronous calls waiting or running per function key (the queue scaling type reads it) */
  private asyncPending: () => ReadonlyMap<string, number> = () => new Map()

  constructor(private readonly deps: FunctionManagerDeps) {
    this.autoscaler = new Autoscaler(deps.autoscale)
  }

  /** The async queue registers itself here once it exists (it is built after the manager). */
  setAsyncPendingSource(source: () => ReadonlyMap<string, number>): void {
    this.asyncPending = source
  }

  private log(key: string, text: string): void {
    this.deps.logs.write({ key, instance: 'gateway', stream: 'system', text })
  }

  /** Loads every stored function; one that fails to prepare stays listed with its error. */
  async start(): Promise<void> {
    for (const stored of this.deps.storage.deployments.all()) {
      const dep = stored.deployment
      const key = functionKey(dep.service, dep.namespace)
      try {
        const settings = settingsOf(dep, this.deps.defaults, { clampReplicas: true })
        const tier = this.tierFor(settings, dep)
        const fn = this.newLive(key, stored, settings, tier)
        if (settings.scale.max === this.deps.defaults.maxReplicasCap && settings.scale.max < Number(dep.labels?.['com.openfaas.scale.max'] ?? 0)) {
          this.log(key, `com.openfaas.scale.max is lowered to the cap of ${settings.scale.max} replicas (KINDLING_MAX_REPLICAS_CAP)`)
        }
        this.live.set(key, fn)
        try {
          await this.activate(fn)
        } catch (e) {
          fn.error = asKindlingError(e)
          this.deps.logs.write({ key, instance: 'gateway', stream: 'system', text: `could not start ${key}: ${fn.error.message}` })
        }
      } catch (e) {
        this.deps.logs.write({ key, instance: 'gateway', stream: 'system', text: `stored deployment of ${key} is not valid any more: ${(e as Error).message}` })
      }
    }
    this.ticker = setInterval(() => this.tick(), 1000)
    this.ticker.unref()
  }

  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const settled = next.catch(() => {})
    this.locks.set(key, settled)
    settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key)
    })
    return next
  }

  private tierFor(settings: FunctionSettings, dep: Deployment): IsolationTier {
    const tier = this.deps.tiers.get(settings.tier)
    if (!tier) throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', `tier ${settings.tier} is not enabled in this gateway`)
    const why = tier.unavailableReason()
    if (why) throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', `tier ${settings.tier} cannot run here: ${why}`)
    const kind = this.artifactKindOf(dep)
    if (!tier.capabilities.artifactKinds.includes(kind)) {
      const what = { 'oci-image': 'a container image', 'wasm-module': 'a WebAssembly module', 'wasm-component': 'a WebAssembly component' }[kind]
      throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', `tier ${tier.name} runs ${tier.capabilities.artifactKinds.join(' or ')}, and ${dep.image} is ${what}`)
    }
    return tier
  }

  /** What the image names: a container image, or an uploaded module or component (by its stored format). */
  private artifactKindOf(dep: Deployment): ArtifactKind {
    if (!isWasmImage(dep.image)) return 'oci-image'
    const digest = WASM_IMAGE.exec(dep.image)?.[1]
    return digest && this.deps.artifacts.get(digest)?.format === 'component' ? 'wasm-component' : 'wasm-module'
  }

  private artifactOf(key: string, stored: StoredFunction, settings: FunctionSettings): FunctionArtifact {
    const dep = stored.deployment
    const a: FunctionArtifact = {
      key,
      name: dep.service,
      namespace: dep.namespace,
      version: stored.version,
      app: settings.app,
      kind: isWasmImage(dep.image) ? 'wasm-module' : 'oci-image',
      image: dep.image,
      envProcess: dep.envProcess,
      envVars: dep.envVars ?? {},
      labels: dep.labels ?? {},
      annotations: dep.annotations ?? {},
      secrets: dep.secrets ?? [],
      memoryBytes: settings.memoryBytes,
      cpuCores: settings.cpuCores,
      timeoutMs: settings.timeoutMs,
      stateMode: settings.stateMode,
      resetMode: settings.resetMode,
      prewarm: settings.prewarm,
      readOnlyRootFilesystem: dep.readOnlyRootFilesystem ?? true,
    }
    if (a.kind === 'wasm-module') {
      const m = WASM_IMAGE.exec(dep.image)
      if (!m) throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', `${JSON.stringify(dep.image)} is not a wasm:sha256:<hex> reference`)
      const rec = this.deps.artifacts.get(m[1]!)
      if (!rec) throw new KindlingError('KINDLING_ERR_ARTIFACT_NOT_FOUND', `no artifact ${m[1]} has been uploaded`)
      a.digest = rec.digest
      a.modulePath = this.deps.artifacts.pathOf(rec.digest)
      if (rec.format === 'component') a.kind = 'wasm-component'
    }
    return a
  }

  private newLive(key: string, stored: StoredFunction, settings: FunctionSettings, tier: IsolationTier): LiveFunction {
    return { key, stored, settings, tier, prepared: undefined, pool: undefined, error: undefined, metrics: this.deps.metrics.forFunction(key) }
  }

  /** Prepares the function on its tier and starts its pool. */
  private async activate(fn: LiveFunction): Promise<void> {
    const artifact = this.artifactOf(fn.key, fn.stored, fn.settings)
    const prepared = await fn.tier.prepare(artifact)
    fn.metrics.prepared(fn.tier.name, prepared.prepareUs)
    fn.prepared = prepared
    fn.pool = this.newPool(fn, prepared)
    fn.error = undefined
  }

  private newPool(fn: LiveFunction, prepared: Prepared, desired?: number): FunctionPool {
    const s = fn.settings
    const pool = new FunctionPool(fn.tier, prepared, {
      // a replica count stored before the cap existed is lowered to max
      desired: Math.min(desired ?? fn.stored.replicas ?? s.scale.min, s.scale.max),
      max: s.scale.max,
      queueDepth: s.queueDepth,
      idleReapMs: this.deps.sandboxIdleMs,
      timeoutMs: s.timeoutMs,
      queueWaitMs: this.deps.queueWaitMs,
      startConcurrency: this.deps.sandboxStartConcurrency,
    }, fn.key)
    pool.on('cold-start', (c: ColdStart) => {
      fn.metrics.coldStart(fn.tier.name, c.onCriticalPath, c.startup)
      // only starts a call waited for, and not on single-use tiers (one per call would flood the log)
      if (c.onCriticalPath && fn.tier.capabilities.reusable) {
        const ms = (us: number) => (us / 1000).toFixed(2)
        this.log(fn.key, `cold start on ${fn.tier.name}: sandbox ${c.sandboxId} ready in ${ms(c.startup.spawnUs)} ms (instantiate ${ms(c.startup.instantiateUs)} ms) while a call waited`)
      }
    })
    pool.on('spawn-failed', (e: Error) => this.log(fn.key, `could not start a sandbox: ${e.message}`))
    pool.on('disposed', (reason: string, id: string) => {
      if (reason === 'failed') this.log(fn.key, `sandbox ${id} died or could not be reset; it is replaced`)
    })
    return pool
  }

  /** POST (create) or PUT (update) /system/functions. */
  deploy(body: unknown, mode: 'create' | 'update'): Promise<LiveFunction> {
    const dep = parseDeployment(body, this.deps.defaults)
    const key = functionKey(dep.service, dep.namespace)
    return this.withLock(key, async () => {
      const existing = this.live.get(key)
      if (mode === 'create' && existing) throw new KindlingError('KINDLING_ERR_FUNCTION_EXISTS', `function ${dep.service} already exists in ${dep.namespace}`)
      if (mode === 'update' && !existing) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${dep.service} is not deployed in ${dep.namespace}`)
      for (const s of dep.secrets ?? []) {
        if (!this.deps.storage.secrets.exists(dep.namespace, s)) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `secret ${s} does not exist in namespace ${dep.namespace}; create it with POST /system/secrets`)
      }
      const settings = settingsOf(dep, this.deps.defaults)
      const tier = this.tierFor(settings, dep)
      const now = new Date().toISOString()
      const stored: StoredFunction = { deployment: dep, version: randomUUID().slice(0, 8), createdAt: existing?.stored.createdAt ?? now, updatedAt: now, replicas: null }
      const fn = this.newLive(key, stored, settings, tier)
      // prepare before persisting: a module that does not compile is refused, nothing is stored
      await this.activate(fn)
      try {
        this.deps.storage.deployments.put(stored)
      } catch (e) {
        // not stored (a full disk: 507): what was started for it goes away again
        await this.retire(fn, 'not stored')
        throw e
      }
      this.live.set(key, fn)
      this.autoscaler.forget(key)
      if (existing) void this.retire(existing, 'updated')
      return fn
    })
  }

  private async retire(fn: LiveFunction, why: string): Promise<void> {
    await fn.pool?.close('undeploy')
    if (fn.prepared) await fn.tier.release(fn.prepared).catch(() => {})
    this.deps.logs.write({ key: fn.key, instance: 'gateway', stream: 'system', text: `version ${fn.stored.version} ${why}` })
  }

  remove(name: string, namespace: string): Promise<void> {
    const key = functionKey(name, namespace)
    return this.withLock(key, async () => {
      const fn = this.live.get(key)
      if (!fn) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in ${namespace}`)
      this.deps.storage.deployments.delete(namespace, name)
      this.live.delete(key)
      this.autoscaler.forget(key)
      this.deps.metrics.dropFunction(key)
      await this.retire(fn, 'removed')
    })
  }

  /** POST /system/scale-function: the number of warm sandboxes to keep, 0 included. */
  scale(name: string, namespace: string, replicas: number): Promise<void> {
    const key = functionKey(name, namespace)
    return this.withLock(key, async () => {
      const fn = this.live.get(key)
      if (!fn) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in ${namespace}`)
      const cap = this.deps.defaults.maxReplicasCap ?? Infinity
      if (replicas > cap) throw new KindlingError('KINDLING_ERR_TOO_MANY_REPLICAS', `replicas=${replicas} is above the cap of ${cap}`)
      const n = Math.min(replicas, fn.settings.scale.max)
      this.deps.storage.deployments.setReplicas(namespace, name, n)
      fn.stored.replicas = n
      fn.pool?.setLimits({ desired: n })
      fn.metrics.scaled('api')
      this.log(key, `scaled to ${n} through the API${n < replicas ? ` (asked ${replicas}, max is ${fn.settings.scale.max})` : ''}`)
    })
  }

  /**
   * A secret changed: every function that mounts it is prepared again (a new version with the same
   * deployment), so new calls read the new value on every tier; calls running finish on the old one.
   */
  async refreshSecret(namespace: string, secret: string): Promise<void> {
    const users = [...this.live.values()].filter((f) => f.stored.deployment.namespace === namespace && f.stored.deployment.secrets?.includes(secret))
    await Promise.all(users.map((f) => this.withLock(f.key, async () => {
      const existing = this.live.get(f.key)
      if (!existing || existing.stored.deployment.secrets?.includes(secret) !== true) return
      const stored: StoredFunction = { ...existing.stored, version: randomUUID().slice(0, 8) }
      const fn = this.newLive(f.key, stored, existing.settings, existing.tier)
      try {
        const artifact = this.artifactOf(fn.key, stored, fn.settings)
        fn.prepared = await fn.tier.prepare(artifact)
      } catch (e) {
        this.log(f.key, `secret ${secret} changed, but the function could not be prepared again: ${asKindlingError(e).message}`)
        return
      }
      fn.pool = this.newPool(fn, fn.prepared, existing.pool?.desired)
      this.deps.storage.deployments.put(stored)
      this.live.set(f.key, fn)
      void this.retire(existing, `replaced: secret ${secret} changed`)
    })))
  }

  get(name: string, namespace: string): LiveFunction | undefined {
    return this.live.get(functionKey(name, namespace))
  }

  getByKey(key: string): LiveFunction | undefined {
    return this.live.get(key)
  }

  list(namespace?: string): LiveFunction[] {
    const all = [...this.live.values()]
    return namespace === undefined ? all : all.filter((f) => f.stored.deployment.namespace === namespace)
  }

  /** Runs one call; failures come back as KindlingErrors. */
  async invoke(fn: LiveFunction, req: InvokeRequest, signal: AbortSignal): Promise<InvokeResult> {
    const t0 = performance.now()
    fn.metrics.callStarted()
    try {
      if (!fn.pool) throw fn.error ?? new KindlingError('KINDLING_ERR_SANDBOX_FAILED', `${fn.key} is not running`)
      if (fn.pool.desired === 0) this.scaleFromZero(fn, fn.pool)
      const r = await fn.pool.invoke(req, signal)
      fn.metrics.callEnded(r.status, (performance.now() - t0) / 1000)
      if (r.stderr) this.deps.logs.write({ key: fn.key, instance: req.callId, stream: 'stderr', text: r.stderr })
      if (r.errorCode) this.log(fn.key, r.errorCode === 'KINDLING_ERR_TIMEOUT' ? `call ${req.callId} ran past its timeout of ${fn.settings.timeoutMs} ms and was stopped` : `call ${req.callId} failed with ${r.status} ${r.errorCode}`)
      return r
    } catch (e) {
      const k = asKindlingError(e)
      fn.metrics.callEnded(k.status, (performance.now() - t0) / 1000)
      if (k.code !== 'KINDLING_ERR_OVERLOADED') this.log(fn.key, `call ${req.callId} failed with ${k.status} ${k.code}`)
      throw k
    }
  }

  /** A call reached a function at zero replicas: it is served, and the function scales to max(min, 1). */
  private scaleFromZero(fn: LiveFunction, pool: FunctionPool): void {
    const n = Math.max(1, fn.settings.scale.min)
    pool.setLimits({ desired: n })
    // back to the labels' min, unless min is 0 (then remember the 1 until the idler scales down again)
    const persisted = fn.settings.scale.min === 0 ? n : null
    fn.stored.replicas = persisted
    this.deps.storage.deployments.setReplicas(fn.stored.deployment.namespace, fn.stored.deployment.service, persisted)
    this.autoscaler.forget(fn.key)
    fn.metrics.scaled('from-zero')
    this.log(fn.key, `scaling from zero to ${n}: a call arrived`)
  }

  status(fn: LiveFunction): Record<string, unknown> {
    const stats = fn.pool?.stats
    return functionStatus(fn.stored.deployment, {
      replicas: stats?.desired ?? 0,
      availableReplicas: stats?.available ?? 0,
      invocationCount: fn.metrics.invocations,
      createdAt: fn.stored.createdAt,
      extra: {
        'com.kindling.tier': fn.tier.name,
        'com.kindling.app': fn.settings.app,
        // warm = alive sandboxes (idle + busy): instances, worker threads, processes or containers
        'com.kindling.sandboxes.warm': String(stats?.available ?? 0),
        'com.kindling.sandboxes.idle': String(stats?.idle ?? 0),
        'com.kindling.sandboxes.busy': String(stats?.busy ?? 0),
        'com.kindling.sandboxes.starting': String(stats?.starting ?? 0),
        ...(fn.error ? { 'com.kindling.error': fn.error.message } : {}),
      },
    })
  }

  /** Once a second: reap idle extra sandboxes, scale idle functions to zero, autoscale the others. */
  private tick(): void {
    const now = Date.now()
    const pending = this.asyncPending()
    for (const fn of this.live.values()) {
      const pool = fn.pool
      if (!pool) continue
      pool.trimIdle(now)
      const s = fn.settings.scale
      if (s.zero && pool.desired > 0 && now - pool.lastCallAt >= s.zeroDurationMs && !pending.get(fn.key)) {
        pool.setLimits({ desired: 0 })
        fn.metrics.scaled('to-zero')
        this.log(fn.key, `scaled to zero after ${((now - pool.lastCallAt) / 1000).toFixed(1)} s without calls`)
        continue
      }
      const st = pool.stats
      const d = this.autoscaler.evaluate(fn.key, {
        now,
        scale: s,
        desired: st.desired,
        okCalls: fn.metrics.okInvocations,
        calls: fn.metrics.invocations,
        inflight: st.busy + st.queued,
        asyncPending: pending.get(fn.key) ?? 0,
      })
      if (d) {
        pool.setLimits({ desired: d.replicas })
        fn.metrics.scaled(d.replicas > st.desired ? 'autoscale-up' : 'autoscale-down')
        // an override set through the API is over once the autoscaler moves: a restart starts at min
        if (fn.stored.replicas !== null) {
          fn.stored.replicas = null
          this.deps.storage.deployments.setReplicas(fn.stored.deployment.namespace, fn.stored.deployment.service, null)
        }
        this.log(fn.key, `autoscaler: ${st.desired} → ${d.replicas} replicas (${d.reason})`)
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.ticker) clearInterval(this.ticker)
    await Promise.all([...this.live.values()].map((f) => f.pool?.close('shutdown')))
  }
}
