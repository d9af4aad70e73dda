// Prometheus metrics: the OpenFaaS gateway series with their labels (function_name is
// "name.namespace"), plus kindling's own. Label children are cached per function so the call path
// does no label hashing.
import client from 'prom-client'
import { RecentLatency } from './recent-latency.js'
import type { UsageTotals } from './usage/store.js'

const COLD_START_BUCKETS = [10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5]

export interface GaugeSource {
  /** per function: desired replicas, sandboxes by state, queued calls */
  functions(): { functionName: string; tier: string; desired: number; available?: number; idle: number; busy: number; starting: number; queued: number }[]
  appHostRestarts(): number
  /** asynchronous calls by state (queued, running, delivering) */
  asyncDepth?(): Record<string, number>
  /** usage (issue 13): per function, totals since history began (read at scrape time, not per call) */
  usage?(): Iterable<{ key: string; total: UsageTotals }>
  /** tracing (issue 13): spans sent to the OTLP collector and dropped */
  tracing?(): { exported: number; dropped: number }
}

/** Why replicas changed, for kindling_scale_events_total. */
export type ScaleReason = 'autoscale-up' | 'autoscale-down' | 'to-zero' | 'from-zero' | 'api'

export class Metrics {
  readonly registry = new client.Registry()
  readonly invocationTotal: client.Counter<'function_name' | 'code'>
  readonly functionSeconds: client.Histogram<'function_name' | 'code'>
  readonly invocationStarted: client.Counter<'function_name'>
  readonly coldStarts: client.Counter<'function_name' | 'tier' | 'critical_path'>
  readonly coldStartSeconds: client.Histogram<'tier' | 'phase'>
  readonly asyncCalls: client.Counter<'status'>
  readonly asyncRetries: client.Counter<'function_name'>
  readonly asyncCallbacks: client.Counter<'result'>
  readonly scaleEvents: client.Counter<'function_name' | 'reason'>
  private readonly perFunction = new Map<string, FunctionMetrics>()

  constructor(source: GaugeSource) {
    const registers = [this.registry]
    // the event-loop lag histogram samples on a timer: prom-client's default (10 ms) woke an idle
    // gateway 100 times a second; at 100 ms it wakes 10 times and still reports lag percentiles
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 })
    this.invocationTotal = new client.Counter({ name: 'gateway_function_invocation_total', help: 'Function calls completed, by function and HTTP status', labelNames: ['function_name', 'code'], registers })
    this.functionSeconds = new client.Histogram({ name: 'gateway_functions_seconds', help: 'Function call duration in seconds', labelNames: ['function_name', 'code'], registers })
    this.invocationStarted = new client.Counter({ name: 'gateway_function_invocation_started', help: 'Function calls started', labelNames: ['function_name'], registers })
    new client.Gauge({
      name: 'gateway_service_count', help: 'Desired replicas (warm sandboxes) per function', labelNames: ['function_name'], registers,
      collect() {
        this.reset()
        for (const f of source.functions()) this.set({ function_name: f.functionName }, f.desired)
      },
    })
    this.coldStarts = new client.Counter({ name: 'kindling_cold_starts_total', help: 'New sandboxes started, by tier; critical_path=true when a call waited for it', labelNames: ['function_name', 'tier', 'critical_path'], registers })
    this.coldStartSeconds = new client.Histogram({ name: 'kindling_cold_start_seconds', help: 'Cold start phases (prepare, spawn, instantiate) as the tiers measured them', labelNames: ['tier', 'phase'], buckets: COLD_START_BUCKETS, registers })
    new client.Gauge({
      name: 'kindling_sandboxes', help: 'Sandboxes per function by state (idle, busy, starting)', labelNames: ['function_name', 'tier', 'state'], registers,
      collect() {
        this.reset()
        for (const f of source.functions()) {
          this.set({ function_name: f.functionName, tier: f.tier, state: 'idle' }, f.idle)
          this.set({ function_name: f.functionName, tier: f.tier, state: 'busy' }, f.busy)
          this.set({ function_name: f.functionName, tier: f.tier, state: 'starting' }, f.starting)
        }
      },
    })
    new client.Gauge({
      name: 'kindling_queue_depth', help: 'Calls waiting for a free sandbox, per function', labelNames: ['function_name'], registers,
      collect() {
        this.reset()
        for (const f of source.functions()) this.set({ function_name: f.functionName }, f.queued)
      },
    })
    new client.Gauge({
      name: 'gateway_service_ready_count', help: 'Warm sandboxes alive (availableReplicas) per function', labelNames: ['function_name'], registers,
      collect() {
        this.reset()
        for (const f of source.functions()) this.set({ function_name: f.functionName }, f.available ?? f.idle + f.busy)
      },
    })
    this.scaleEvents = new client.Counter({ name: 'kindling_scale_events_total', help: 'Replica changes by reason (autoscale-up, autoscale-down, to-zero, from-zero, api)', labelNames: ['function_name', 'reason'], registers })
    this.asyncCalls = new client.Counter({ name: 'kindling_async_calls_total', help: 'Asynchronous calls by status: accepted, then done (2xx/3xx), failed or cancelled', labelNames: ['status'], registers })
    this.asyncRetries = new client.Counter({ name: 'kindling_async_retries_total', help: 'Asynchronous calls run again after a retryable status', labelNames: ['function_name'], registers })
    this.asyncCallbacks = new client.Counter({ name: 'kindling_async_callbacks_total', help: 'Callback POSTs by result: delivered, retried (will be tried again) or failed (given up)', labelNames: ['result'], registers })
    new client.Gauge({
      name: 'kindling_async_queue_depth', help: 'Asynchronous calls not finished, by state (queued, running, delivering)', labelNames: ['state'], registers,
      collect() {
        this.reset()
        const depth = source.asyncDepth?.() ?? {}
        for (const state of ['queued', 'running', 'delivering']) this.set({ state }, depth[state] ?? 0)
      },
    })
    // usage (issue 13): counters filled from the usage meter when scraped, so a call pays nothing here
    const usageCounter = (name: string, help: string, value: (t: UsageTotals) => number, labelNames: string[] = ['function_name']) =>
      new client.Counter({
        name, help, labelNames, registers,
        collect() {
          this.reset()
          for (const u of source.usage?.() ?? []) this.inc({ function_name: u.key }, value(u.total))
        },
      })
    usageCounter('kindling_function_cpu_seconds_total', 'CPU time of calls, where the tier measures it (wasm, thread, process: see README, Usage)', (t) => t.cpuUs / 1e6)
    usageCounter('kindling_function_cpu_measured_calls_total', 'Calls whose CPU time was measured (kindling_function_cpu_seconds_total covers these)', (t) => t.cpuCalls)
    usageCounter('kindling_function_wall_seconds_total', 'Wall time of calls as the gateway saw them', (t) => t.wallUs / 1e6)
    usageCounter('kindling_function_gb_seconds_total', 'Memory limit (GiB) times wall time of calls, as clouds bill', (t) => t.gibUs / 1e6)
    new client.Counter({
      name: 'kindling_function_bytes_total', help: 'Request bytes into and response bytes out of functions', labelNames: ['function_name', 'direction'], registers,
      collect() {
        this.reset()
        for (const u of source.usage?.() ?? []) {
          this.inc({ function_name: u.key, direction: 'in' }, u.total.bytesIn)
          this.inc({ function_name: u.key, direction: 'out' }, u.total.bytesOut)
        }
      },
    })
    // tracing (issue 13)
    for (const [name, help, pick] of [
      ['kindling_trace_spans_exported_total', 'Spans the OTLP collector took', (t: { exported: number }) => t.exported],
      ['kindling_trace_spans_dropped_total', 'Spans dropped: the queue was full or the collector failed or was too slow', (t: { dropped: number }) => t.dropped],
    ] as const) {
      new client.Counter({
        name, help, registers,
        collect() {
          const t = source.tracing?.()
          this.reset()
          if (t) this.inc(pick(t as { exported: number; dropped: number }))
        },
      })
    }
    new client.Gauge({
      name: 'kindling_app_host_restarts_total', help: 'App host processes that died and were replaced', registers,
      collect() {
        this.set(source.appHostRestarts())
      },
    })
  }

  forFunction(functionName: string): FunctionMetrics {
    let m = this.perFunction.get(functionName)
    if (!m) {
      m = new FunctionMetrics(this, functionName)
      this.perFunction.set(functionName, m)
    }
    return m
  }

  /** every function with metrics, by its "name.namespace" (GET /system/stats) */
  functions(): IterableIterator<[string, FunctionMetrics]> {
    return this.perFunction.entries()
  }

  dropFunction(functionName: string): void {
    this.perFunction.delete(functionName)
  }
}

/** One sandbox start of a function, for the dashboard (the histograms keep only the tier). */
export interface RecentColdStart {
  at: string
  tier: string
  /** a call waited for this sandbox */
  criticalPath: boolean
  spawnMs: number
  instantiateMs: number
}

/** how many cold starts a function keeps for GET /system/stats */
const RECENT_COLD_STARTS = 20

export class FunctionMetrics {
  private readonly byCode = new Map<number, { count: client.Counter.Internal; seconds: client.Histogram.Internal<'function_name' | 'code'>; ok: boolean }>()
  private readonly started: client.Counter.Internal
  invocations = 0
  /** completed with a 2xx status (the autoscaler's CE rule counts these) */
  okInvocations = 0
  /** the last two minutes of calls (dashboard sparklines) */
  readonly recent = new RecentLatency()
  /** newest last */
  readonly recentColdStarts: RecentColdStart[] = []
  /** the version's prepare (compile, unpack), which comes before the first spawn */
  lastPrepare: { at: string; tier: string; ms: number } | undefined

  constructor(private readonly m: Metrics, private readonly functionName: string) {
    this.started = m.invocationStarted.labels(functionName)
  }

  callStarted(): void {
    this.started.inc()
  }

  callEnded(code: number, seconds: number): void {
    let c = this.byCode.get(code)
    if (!c) {
      const codeLabel = String(code)
      c = { count: this.m.invocationTotal.labels(this.functionName, codeLabel), seconds: this.m.functionSeconds.labels(this.functionName, codeLabel), ok: code >= 200 && code < 300 }
      this.byCode.set(code, c)
    }
    c.count.inc()
    c.seconds.observe(seconds)
    this.invocations++
    if (c.ok) this.okInvocations++
    // errors as the dashboard counts them: what the gateway or the function answered with a 5xx
    this.recent.record(seconds * 1000, code < 500)
  }

  scaled(reason: ScaleReason): void {
    this.m.scaleEvents.labels(this.functionName, reason).inc()
  }

  asyncRetried(): void {
    this.m.asyncRetries.labels(this.functionName).inc()
  }

  coldStart(tier: string, criticalPath: boolean, phases: { prepareUs: number; spawnUs: number; instantiateUs: number }): void {
    this.m.coldStarts.labels(this.functionName, tier, String(criticalPath)).inc()
    this.m.coldStartSeconds.labels(tier, 'spawn').observe(phases.spawnUs / 1e6)
    this.m.coldStartSeconds.labels(tier, 'instantiate').observe(phases.instantiateUs / 1e6)
    if (this.recentColdStarts.length === RECENT_COLD_STARTS) this.recentColdStarts.shift()
    this.recentColdStarts.push({ at: new Date().toISOString(), tier, criticalPath, spawnMs: phases.spawnUs / 1000, instantiateMs: phases.instantiateUs / 1000 })
  }

  prepared(tier: string, prepareUs: number): void {
    this.m.coldStartSeconds.labels(tier, 'prepare').observe(prepareUs / 1e6)
    this.lastPrepare = { at: new Date().toISOString(), tier, ms: prepareUs / 1000 }
  }
}
