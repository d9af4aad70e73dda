// Decides how many warm sandboxes (replicas) a function should have, once per scaler tick (scaler.ts),
// from counters the call path already keeps (no work on the call path itself).
//
// Without com.openfaas.scale.target: OpenFaaS CE's rule. The rate of successful calls over the
// window above 5 rps, held for fire-after, "fires": replicas step up by ceil(max * factor / 100),
// again every window while it keeps firing, up to max. When the rate falls back, the alert
// "resolves" and replicas go back to min.
// With a target: OpenFaaS Pro's formula, desired = ceil(load / (target * target-proportion)) with
// load = calls per second (rps), mean in-flight calls (capacity) or waiting async calls (queue),
// clamped to [max(min, 1), max]; scale-down takes the highest recommendation of the down window.
//
// The autoscaler acts on changes of its own recommendation (an alert firing or resolving, the
// formula's result moving), not on every tick, so replicas set through the scale API hold until
// the autoscaler next has something new to say. At zero replicas it stays out: scale from zero and
// the idler own that.
import type { ScaleSettings } from '../spec.js'

/** OpenFaaS CE: APIHighInvocationRate fires above this many successful calls per second. */
export const CE_THRESHOLD_RPS = 5

export interface AutoscaleInput {
  now: number
  scale: ScaleSettings
  /** replicas now */
  desired: number
  /** calls completed with a 2xx status, since the process started */
  okCalls: number
  /** calls completed with any status, since the process started */
  calls: number
  /** calls running or waiting for a sandbox now */
  inflight: number
  /** asynchronous calls of this function waiting or running */
  asyncPending: number
}

export interface AutoscaleDecision {
  replicas: number
  reason: string
}

interface Sample {
  t: number
  ok: number
  calls: number
  inflight: number
}

interface FunctionState {
  samples: Sample[]
  /** CE: when the rate first went above the threshold (the alert was pending) */
  pendingSince: number | undefined
  firing: boolean
  lastFireAt: number
  /** Pro: last recommendation and those of the down window */
  lastRec: number | undefined
  recs: { t: number; n: number }[]
}

export interface AutoscalerOptions {
  windowMs: number
  fireAfterMs: number
}

export class Autoscaler {
  private readonly state = new Map<string, FunctionState>()

  constructor(private readonly opts: AutoscalerOptions) {}

  /** Forgets what was measured (a new version, a scale from zero): the next tick starts afresh. */
  forget(key: string): void {
    this.state.delete(key)
  }

  evaluate(key: string, input: AutoscaleInput): AutoscaleDecision | undefined {
    let st = this.state.get(key)
    if (!st) this.state.set(key, (st = { samples: [], pendingSince: undefined, firing: false, lastFireAt: 0, lastRec: undefined, recs: [] }))
    this.record(st, input)
    const s = input.scale
    if (input.desired === 0 || s.min === s.max) return undefined
    return s.target === undefined ? this.ceRule(st, input) : this.target(st, input, s.target)
  }

  private record(st: FunctionState, i: AutoscaleInput): void {
    st.samples.push({ t: i.now, ok: i.okCalls, calls: i.calls, inflight: i.inflight })
    // keep one sample at or before the window's start, as the baseline of the rate
    const from = i.now - this.opts.windowMs
    while (st.samples.length > 2 && st.samples[1]!.t <= from) st.samples.shift()
  }

  /** Per second over the samples kept (at most the window; less just after a start). */
  private rate(st: FunctionState, pick: (s: Sample) => number): number {
    const first = st.samples[0]!
    const last = st.samples[st.samples.length - 1]!
    const span = last.t - first.t
    return span <= 0 ? 0 : ((pick(last) - pick(first)) * 1000) / span
  }

  private ceRule(st: FunctionState, i: AutoscaleInput): AutoscaleDecision | undefined {
    const s = i.scale
    if (s.factor === 0) return undefined
    const rps = this.rate(st, (x) => x.ok)
    if (rps > CE_THRESHOLD_RPS) {
      st.pendingSince ??= i.now
      if (i.now - st.pendingSince < this.opts.fireAfterMs) return undefined
      if (st.firing && i.now - st.lastFireAt < this.opts.windowMs) return undefined
      st.firing = true
      st.lastFireAt = i.now
      const step = Math.ceil((s.max * s.factor) / 100)
      const next = Math.min(i.desired + step, s.max)
      return next === i.desired ? undefined : { replicas: next, reason: `${rps.toFixed(1)} rps of 2xx calls is above ${CE_THRESHOLD_RPS} rps: step up by ${step}` }
    }
    st.pendingSince = undefined
    if (!st.firing) return undefined
    st.firing = false
    const floor = Math.max(s.min, 1)
    return floor === i.desired ? undefined : { replicas: floor, reason: `${rps.toFixed(1)} rps of 2xx calls is back at or below ${CE_THRESHOLD_RPS} rps: back to min` }
  }

  private target(st: FunctionState, i: AutoscaleInput, target: number): AutoscaleDecision | undefined {
    const s = i.scale
    let load: number
    let unit: string
    switch (s.type) {
      case 'rps':
        load = this.rate(st, (x) => x.calls)
        unit = 'rps'
        break
      case 'capacity':
        load = st.samples.reduce((a, x) => a + x.inflight, 0) / st.samples.length
        unit = 'calls in flight'
        break
      case 'queue':
        load = i.asyncPending
        unit = 'async calls waiting'
        break
      default:
        return undefined // cpu: kindling does not measure per-sandbox cpu
    }
    const floor = Math.max(s.min, 1)
    const raw = Math.ceil(load / (target * s.targetProportion) - 1e-9)
    let rec = Math.min(s.max, Math.max(floor, raw))
    st.recs.push({ t: i.now, n: rec })
    while (st.recs.length > 1 && st.recs[0]!.t < i.now - s.downWindowMs) st.recs.shift()
    if (rec < i.desired) rec = Math.max(rec, ...st.recs.map((r) => r.n))
    if (rec === st.lastRec) return undefined
    st.lastRec = rec
    if (rec === i.desired) return undefined
    return { replicas: rec, reason: `${load.toFixed(1)} ${unit} against a target of ${target} × ${s.targetProportion} per replica` }
  }
}
