// The dispatcher: the only door to the tiers. It prepares each version the registry activates on
// its tier, keeps one pool per current version, and runs calls: pick or start a sandbox (the
// pool), scale from zero, per-call metrics and logs. The gateway and the async worker call it by
// function name; they never hold a pool or a tier.
import { asKindlingError, KindlingError } from '../errors.js'
import type { LogHub } from '../logs.js'
import type { FunctionMetrics, Metrics } from '../metrics.js'
import { functionKey } from '../names.js'
import { WASM_IMAGE } from '../registry/artifacts.js'
import type { StoredFunction } from '../registry/registry-storage.js'
import type { DeploymentVersion, Registry, RegistryEvents } from '../registry/registry.js'
import { type FunctionSettings, functionStatus, isWasmImage } from '../spec.js'
import { type ArtifactKind, type CancelSignal, type CallRequest, type FunctionArtifact, type InvokeResult, type IsolationTier, type Prepared, type TierName, WASM_FORMATS, type WasmFormat } from '../../isolation/tier.js'
import { type ColdStart, FunctionPool } from './pool.js'
import { Scaler } from './scaler.js'
import type { FunctionUsage, UsageMeter } from '../usage/meter.js'
import type { Tracer } from '../tracing/tracer.js'

/** The call's shapes, for the gateway and the async worker (which do not reach into isolation/). */
export type { CallRequest, CancelSignal, InvokeResult, ResponseHeaders } from '../../isolation/tier.js'

/**
 * The one seam the gateway and the async worker call: the local dispatcher on the single node, the
 * cluster router (runtime/cluster/calls/router.ts) on a gateway in a cluster.
 */
export interface Invoker {
  invoke(name: string, namespace: string, req: CallRequest, signal: CancelSignal): Promise<InvokeResult>
  invokeKey(key: string, req: CallRequest, signal: CancelSignal): Promise<InvokeResult>
}

/** A version the dispatcher runs: prepared on its tier, with its pool. */
export interface ActiveFunction {
  readonly key: string
  readonly version: DeploymentVersion
  readonly stored: StoredFunction
  readonly settings: FunctionSettings
  readonly tier: IsolationTier
  prepared: Prepared | undefined
  pool: FunctionPool | undefined
  /** why the function cannot run right now (prepare failed at start-up) */
  error: KindlingError | undefined
  metrics: FunctionMetrics
  /** usage (issue 13): invocations, time, CPU, GB-seconds, bytes */
  usage: FunctionUsage | undefined
}

export interface DispatcherDeps {
  registry: Registry
  tiers: ReadonlyMap<TierName, IsolationTier>
  metrics: Metrics
  logs: LogHub
  sandboxIdleMs: number
  queueWaitMs: number
  /** sandboxes one pool starts at once */
  sandboxStartConcurrency: number
  autoscale: { windowMs: number; fireAfterMs: number }
  /** usage (issue 13): where each call's usage goes */
  usage?: UsageMeter
  /** tracing (issue 13): traceparent checked and continued; spans when exported */
  tracer?: Tracer
}

export class Dispatcher implements Invoker {
  private readonly live = new Map<string, ActiveFunction>()
  /** every version prepared and not retired yet: current, about to be (a deploy being stored), or replaced */
  private readonly versions = new Map<DeploymentVersion, ActiveFunction>()
  private readonly scaler: Scaler
  private closed = false

  constructor(private readonly deps: DispatcherDeps) {
    this.scaler = new Scaler({
      functions: () => this.live.values(),
      autoscale: deps.autoscale,
      recordReplicas: (fn, n) => deps.registry.recordReplicas(fn.version, n),
      log: (key, text) => this.log(key, text),
    })
    deps.registry.setPrepareHook((v, cause) => this.prepare(v, cause === 'load'))
    deps.registry.on('activated', (e) => this.activate(e))
    deps.registry.on('retired', (e) => this.retire(e))
    deps.registry.on('changed', (e) => this.changed(e))
  }

  /** Starts the scaler tick (after the registry has loaded). */
  start(): void {
    this.scaler.start()
  }

  /** The async queue registers itself here once it exists (the queue scaling type reads it). */
  setAsyncPendingSource(source: () => ReadonlyMap<string, number>): void {
    this.scaler.setAsyncPendingSource(source)
  }

  private log(key: string, text: string): void {
    this.deps.logs.write({ key, instance: 'gateway', stream: 'system', text })
  }

  private tierFor(v: DeploymentVersion): IsolationTier {
    const { settings } = v
    const dep = v.stored.deployment
    const tier = this.deps.tiers.get(settings.tier)
    if (!tier) throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', `tier ${settings.tier} is not enabled in this gateway`)
    const why = tier.unavailableReason()
    if (why) throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', `tier ${settings.tier} cannot run here: ${why}`)
    const kind = artifactKindOf(v)
    if (!tier.capabilities.artifactKinds.includes(kind)) {
      const what = { 'oci-image': 'a container image', 'wasm-module': 'a WebAssembly module', 'wasm-component': 'a WebAssembly component' }[kind]
      throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', `tier ${tier.name} runs ${tier.capabilities.artifactKinds.join(' or ')}, and ${dep.image} is ${what}`)
    }
    return tier
  }

  /**
   * The registry's prepare hook: prepares the version on its tier. At start-up (`keep`) a failure
   * to prepare is kept and shown with the function; only a version that can never run here throws.
   */
  private async prepare(v: DeploymentVersion, keep: boolean): Promise<void> {
    const tier = this.tierFor(v)
    const fn: ActiveFunction = { key: v.key, version: v, stored: v.stored, settings: v.settings, tier, prepared: undefined, pool: undefined, error: undefined, metrics: this.deps.metrics.forFunction(v.key), usage: this.deps.usage?.forFunction(v.key) }
    try {
      const prepared = await tier.prepare(artifactOf(v))
      fn.metrics.prepared(tier.name, prepared.prepareUs)
      fn.prepared = prepared
    } catch (e) {
      if (!keep) throw e
      fn.error = asKindlingError(e)
      this.log(v.key, `could not start ${v.key}: ${fn.error.message}`)
    }
    this.versions.set(v, fn)
  }

  /** A version became current: its pool starts (the one path for deploy, update, start-up and secret change). */
  private activate({ version, cause, previous }: RegistryEvents['activated']): void {
    const fn = this.versions.get(version)
    if (!fn) return
    if (fn.prepared) {
      // a secret change keeps the replicas the function had; others start from the stored count or min
      const keepDesired = cause === 'secret' && previous ? this.live.get(previous.key)?.pool?.desired : undefined
      fn.pool = this.newPool(fn, fn.prepared, keepDesired)
    }
    this.live.set(fn.key, fn)
    if (cause !== 'load') this.scaler.forget(fn.key)
  }

  private newPool(fn: ActiveFunction, prepared: Prepared, desired?: number): FunctionPool {
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

  /** A version was replaced, removed, or prepared but not stored: its pool and prepared code go. */
  private async retire({ version, reason, removed }: RegistryEvents['retired']): Promise<void> {
    const fn = this.versions.get(version)
    if (!fn) return
    this.versions.delete(version)
    if (removed && this.live.get(version.key) === fn) {
      this.live.delete(version.key)
      this.scaler.forget(version.key)
      this.deps.metrics.dropFunction(version.key)
    }
    await fn.pool?.close('undeploy')
    if (fn.prepared) await fn.tier.release(fn.prepared).catch(() => {})
    this.log(fn.key, `version ${version.stored.version} ${reason}`)
  }

  private changed({ version, replicas }: RegistryEvents['changed']): void {
    const fn = this.live.get(version.key)
    if (fn?.version !== version) return
    fn.pool?.setLimits({ desired: replicas })
    fn.metrics.scaled('api')
  }

  /** The running function of a name (tests, bench and metrics read its pool). */
  get(name: string, namespace: string): ActiveFunction | undefined {
    return this.live.get(functionKey(name, namespace))
  }

  getByKey(key: string): ActiveFunction | undefined {
    return this.live.get(key)
  }

  list(): ActiveFunction[] {
    return [...this.live.values()]
  }

  /** Runs one call of a function by name; failures come back as KindlingErrors. */
  invoke(name: string, namespace: string, req: CallRequest, signal: CancelSignal): Promise<InvokeResult> {
    const fn = this.live.get(functionKey(name, namespace))
    if (!fn) return Promise.reject(new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in namespace ${namespace}`))
    return this.run(fn, req, signal)
  }

  /** Runs one call of a function by key (the async worker's). */
  invokeKey(key: string, req: CallRequest, signal: CancelSignal): Promise<InvokeResult> {
    const fn = this.live.get(key)
    if (!fn) return Promise.reject(new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${key} is not deployed`))
    return this.run(fn, req, signal)
  }

  private async run(fn: ActiveFunction, req: CallRequest, signal: CancelSignal): Promise<InvokeResult> {
    const t0 = performance.now()
    fn.metrics.callStarted()
    const span = this.deps.tracer?.start(req)
    try {
      if (!fn.pool) throw fn.error ?? new KindlingError('KINDLING_ERR_SANDBOX_FAILED', `${fn.key} is not running`)
      if (fn.pool.desired === 0) this.scaleFromZero(fn, fn.pool)
      const r = await fn.pool.invoke(req, signal)
      const ms = performance.now() - t0
      fn.metrics.callEnded(r.status, ms / 1000)
      fn.usage?.record(ms * 1000, r.cpuUs, fn.settings.memoryBytes, req.body.length, r.body.length)
      if (span) this.deps.tracer!.end(span, fn.key, fn.tier.name, req.callId, r.status, r, r.errorCode)
      if (r.stderr) this.deps.logs.write({ key: fn.key, instance: req.callId, stream: 'stderr', text: r.stderr })
      if (r.errorCode) this.log(fn.key, r.errorCode === 'KINDLING_ERR_TIMEOUT' ? `call ${req.callId} ran past its timeout of ${fn.settings.timeoutMs} ms and was stopped` : `call ${req.callId} failed with ${r.status} ${r.errorCode}`)
      return r
    } catch (e) {
      const k = asKindlingError(e)
      const ms = performance.now() - t0
      fn.metrics.callEnded(k.status, ms / 1000)
      fn.usage?.record(ms * 1000, undefined, fn.settings.memoryBytes, req.body.length, 0)
      if (span) this.deps.tracer!.end(span, fn.key, fn.tier.name, req.callId, k.status, undefined, k.code)
      if (k.code !== 'KINDLING_ERR_OVERLOADED') this.log(fn.key, `call ${req.callId} failed with ${k.status} ${k.code}`)
      throw k
    }
  }

  /** A call reached a function at zero replicas: it is served, and the function scales to max(min, 1). */
  private scaleFromZero(fn: ActiveFunction, pool: FunctionPool): void {
    const n = Math.max(1, fn.settings.scale.min)
    pool.setLimits({ desired: n })
    // back to the labels' min, unless min is 0 (then remember the 1 until the idler scales down again)
    this.deps.registry.recordReplicas(fn.version, fn.settings.scale.min === 0 ? n : null)
    this.scaler.forget(fn.key)
    fn.metrics.scaled('from-zero')
    this.log(fn.key, `scaling from zero to ${n}: a call arrived`)
  }

  /** A function's entry in GET /system/functions: its deployment and what runs of it now. */
  describe(version: DeploymentVersion, withUsage = false): Record<string, unknown> {
    const fn = this.live.get(version.key)
    const stats = fn?.version === version ? fn.pool?.stats : undefined
    const status = functionStatus(version.stored.deployment, {
      replicas: stats?.desired ?? 0,
      availableReplicas: stats?.available ?? 0,
      invocationCount: fn?.metrics.invocations ?? 0,
      createdAt: version.stored.createdAt,
      extra: {
        'com.kindling.tier': fn?.tier.name ?? version.settings.tier,
        'com.kindling.app': version.settings.app,
        // warm = alive sandboxes (idle + busy): instances, worker threads, processes or containers
        'com.kindling.sandboxes.warm': String(stats?.available ?? 0),
        'com.kindling.sandboxes.idle': String(stats?.idle ?? 0),
        'com.kindling.sandboxes.busy': String(stats?.busy ?? 0),
        'com.kindling.sandboxes.starting': String(stats?.starting ?? 0),
        ...(fn?.error ? { 'com.kindling.error': fn.error.message } : {}),
      },
    })
    // usage (issue 13): OpenFaaS's two fields, then kindling's own
    if (withUsage && fn?.usage) status.usage = usageOf(fn.usage, (stats?.available ?? 0) * fn.settings.memoryBytes)
    return status
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.scaler.stop()
    await Promise.all([...this.live.values()].map((f) => f.pool?.close('shutdown')))
  }
}

/** What the image names: a container image, or an uploaded module or component (by its stored format). */
function artifactKindOf(v: DeploymentVersion): ArtifactKind {
  if (!isWasmImage(v.stored.deployment.image)) return 'oci-image'
  return v.module?.format === 'component' ? 'wasm-component' : 'wasm-module'
}

/** What a tier prepares from a version. */
function artifactOf(v: DeploymentVersion): FunctionArtifact {
  const dep = v.stored.deployment
  const s = v.settings
  const a: FunctionArtifact = {
    key: v.key,
    name: dep.service,
    namespace: dep.namespace,
    version: v.stored.version,
    app: s.app,
    kind: isWasmImage(dep.image) ? 'wasm-module' : 'oci-image',
    image: dep.image,
    envProcess: dep.envProcess,
    envVars: dep.envVars ?? {},
    labels: dep.labels ?? {},
    annotations: dep.annotations ?? {},
    secrets: dep.secrets ?? [],
    memoryBytes: s.memoryBytes,
    cpuCores: s.cpuCores,
    timeoutMs: s.timeoutMs,
    stateMode: s.stateMode,
  }
  if (a.kind === 'oci-image') {
    a.container = { readOnlyRootFilesystem: dep.readOnlyRootFilesystem ?? true }
    return a
  }
  const digest = WASM_IMAGE.exec(dep.image)?.[1]
  if (!digest) throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', `${JSON.stringify(dep.image)} is not a wasm:sha256:<hex> reference`)
  const m = v.module
  if (!m) throw new KindlingError('KINDLING_ERR_ARTIFACT_NOT_FOUND', `no artifact ${digest} has been uploaded`)
  if (m.format === 'component') a.kind = 'wasm-component'
  // the format the upload classified the module as: prepare does not compile it again
  a.wasm = { modulePath: m.path, digest: m.digest, format: wasmFormatOf(m.format), resetMode: s.resetMode, prewarm: s.prewarm }
  return a
}

/** A stored format kindling knows (records written before formats were kept may hold anything else). */
function wasmFormatOf(format: string): WasmFormat | undefined {
  return (WASM_FORMATS as readonly string[]).includes(format) ? (format as WasmFormat) : undefined
}

/**
 * The `usage` of GET /system/function/{name}: OpenFaaS's cpu (millicores over the last minute)
 * and totalMemoryBytes (here the memory limits its warm sandboxes hold), then kindling's totals
 * since history began.
 */
function usageOf(u: FunctionUsage, reservedBytes: number): Record<string, number> {
  const t = u.total
  return {
    cpu: Math.round(u.cpuMillicores() * 1000) / 1000,
    totalMemoryBytes: reservedBytes,
    invocations: t.invocations,
    wallSeconds: t.wallUs / 1e6,
    cpuSeconds: t.cpuUs / 1e6,
    cpuMeasuredInvocations: t.cpuCalls,
    gbSeconds: t.gibUs / 1e6,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
  }
}
