// The scaler tick beside the dispatcher: once a second it reaps idle extra sandboxes, scales idle
// functions to zero and lets the autoscaler (autoscaler.ts) move the others. It reads counters the
// call path already keeps; it adds no work to a call.
import { Autoscaler } from './autoscaler.js'
import type { ActiveFunction } from './dispatcher.js'

export interface ScalerDeps {
  /** the functions with a pool now */
  functions: () => Iterable<ActiveFunction>
  autoscale: { windowMs: number; fireAfterMs: number }
  /** remembers (or clears, null) a replica count for the next start */
  recordReplicas: (fn: ActiveFunction, replicas: number | null) => void
  log: (key: string, text: string) => void
}

export class Scaler {
  private ticker: NodeJS.Timeout | undefined
  private readonly autoscaler: Autoscaler
  /** asynchronous calls waiting or running per function key (the queue scaling type reads it) */
  private asyncPending: () => ReadonlyMap<string, number> = () => new Map()

  constructor(private readonly deps: ScalerDeps) {
    this.autoscaler = new Autoscaler(deps.autoscale)
  }

  /** The async queue registers itself here once it exists. */
  setAsyncPendingSource(source: () => ReadonlyMap<string, number>): void {
    this.asyncPending = source
  }

  start(): void {
    this.ticker ??= setInterval(() => this.tick(), 1000)
    this.ticker.unref()
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = undefined
  }

  /** A new version, a removal or a scale from zero: the autoscaler's memory of the function starts over. */
  forget(key: string): void {
    this.autoscaler.forget(key)
  }

  tick(): void {
    const now = Date.now()
    const pending = this.asyncPending()
    for (const fn of this.deps.functions()) {
      const pool = fn.pool
      if (!pool) continue
      pool.trimIdle(now)
      const s = fn.settings.scale
      if (s.zero && pool.desired > 0 && now - pool.lastCallAt >= s.zeroDurationMs && !pending.get(fn.key)) {
        pool.setLimits({ desired: 0 })
        fn.metrics.scaled('to-zero')
        this.deps.log(fn.key, `scaled to zero after ${((now - pool.lastCallAt) / 1000).toFixed(1)} s without calls`)
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
        if (fn.stored.replicas !== null) this.deps.recordReplicas(fn, null)
        this.deps.log(fn.key, `autoscaler: ${st.desired} → ${d.replicas} replicas (${d.reason})`)
      }
    }
  }
}
