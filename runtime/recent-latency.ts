// The last two minutes of a function's calls, in 2-second slots of a log-scale histogram, so the
// dashboard can draw rate, error and p50/p99 sparklines from the moment it opens (Prometheus
// histograms are cumulative: they cannot say what the last few seconds looked like). Recording a
// call is a few array writes; percentiles are read from the buckets (within one bucket, ~10%).

export const SLOT_MS = 2000
export const SLOTS = 60
/** bucket i holds durations in [MIN_MS * RATIO^i, MIN_MS * RATIO^(i+1)); the last one everything above */
const MIN_MS = 0.001
const RATIO = 1.2
const BUCKETS = 104 // 0.001 ms * 1.2^103 ~ 140 s
const LOG_RATIO = Math.log(RATIO)

export interface LatencyPoint {
  /** start of the slot (ms since the epoch) */
  t: number
  calls: number
  errors: number
  /** null when the slot has no call */
  p50Ms: number | null
  p99Ms: number | null
}

export class RecentLatency {
  /** SLOTS x BUCKETS counts (25 KB), made at the first call: a function never called costs nothing */
  private counts: Uint32Array | undefined
  private readonly calls = new Uint32Array(SLOTS)
  private readonly errors = new Uint32Array(SLOTS)
  /** the slot number (time / SLOT_MS) that the ring's newest entry holds */
  private newest = -1

  constructor(private readonly now: () => number = Date.now) {}

  record(ms: number, ok: boolean): void {
    const i = this.advance(Math.floor(this.now() / SLOT_MS)) % SLOTS
    const b = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / MIN_MS) / LOG_RATIO))
    this.counts ??= new Uint32Array(SLOTS * BUCKETS)
    this.counts[i * BUCKETS + b]!++
    this.calls[i]!++
    if (!ok) this.errors[i]!++
  }

  /** Oldest first, one point per slot of the last SLOTS * SLOT_MS, the current (partial) slot last. */
  series(): LatencyPoint[] {
    const current = this.advance(Math.floor(this.now() / SLOT_MS))
    const out: LatencyPoint[] = []
    for (let s = current - SLOTS + 1; s <= current; s++) {
      const i = ((s % SLOTS) + SLOTS) % SLOTS
      const n = s < 0 ? 0 : this.calls[i]!
      out.push({ t: s * SLOT_MS, calls: n, errors: n ? this.errors[i]! : 0, p50Ms: n ? this.quantile(i, n, 0.5) : null, p99Ms: n ? this.quantile(i, n, 0.99) : null })
    }
    return out
  }

  /** Moves the ring to slot `slot`, clearing the slots skipped over; returns the newest slot. */
  private advance(slot: number): number {
    if (slot <= this.newest) return this.newest
    const from = Math.max(this.newest + 1, slot - SLOTS + 1)
    for (let s = from; s <= slot; s++) {
      const i = s % SLOTS
      this.counts?.fill(0, i * BUCKETS, (i + 1) * BUCKETS)
      this.calls[i] = 0
      this.errors[i] = 0
    }
    this.newest = slot
    return slot
  }

  /** the geometric middle of the bucket holding the q-quantile */
  private quantile(i: number, n: number, q: number): number {
    const rank = Math.max(1, Math.ceil(q * n))
    let seen = 0
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts![i * BUCKETS + b]!
      if (seen >= rank) return b === 0 ? MIN_MS : MIN_MS * RATIO ** (b + 0.5)
    }
    return MIN_MS * RATIO ** BUCKETS
  }
}
