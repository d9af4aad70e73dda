// Usage per function (issue 13, item 5): invocations, wall time, CPU time where the tier measured
// it, GB-seconds (memory limit x wall time) and bytes in and out. A call adds a few numbers to
// its function's open minute; a timer writes the minutes to SQLite in one transaction
// (KINDLING_USAGE_FLUSH_MS), so history survives a restart without a write per call.
import { addInto, type UsageRow, type UsageStore, type UsageTotals, ZERO } from './store.js'

const MINUTE_MS = 60_000
const GIB = 1024 ** 3
/** the window of OpenFaaS's usage.cpu (millicores): six ten-second slots */
const CPU_SLOT_MS = 10_000
const CPU_SLOTS = 6

export class FunctionUsage {
  /** since history began: stored rows plus what is not written yet */
  readonly total: UsageTotals
  /** the minute being filled, not written yet */
  open: UsageTotals = { ...ZERO }
  minute = 0
  private readonly cpuSlotUs = new Array<number>(CPU_SLOTS).fill(0)
  private readonly cpuSlotId = new Array<number>(CPU_SLOTS).fill(-1)

  constructor(readonly key: string, private readonly meter: UsageMeter, stored: UsageTotals | undefined) {
    this.total = { ...(stored ?? ZERO) }
  }

  /** One finished call (the hot path: no allocation unless the minute changed). */
  record(wallUs: number, cpuUs: number | undefined, memoryBytes: number, bytesIn: number, bytesOut: number): void {
    const now = this.meter.now()
    const minute = Math.floor(now / MINUTE_MS)
    if (minute !== this.minute) {
      if (this.open.invocations > 0) this.meter.seal({ key: this.key, minute: this.minute, ...this.open })
      this.open = { ...ZERO }
      this.minute = minute
    }
    const gibUs = (memoryBytes / GIB) * wallUs
    addCall(this.open, wallUs, cpuUs, gibUs, bytesIn, bytesOut)
    addCall(this.total, wallUs, cpuUs, gibUs, bytesIn, bytesOut)
    if (cpuUs !== undefined) {
      const slot = Math.floor(now / CPU_SLOT_MS)
      const i = slot % CPU_SLOTS
      if (this.cpuSlotId[i] !== slot) {
        this.cpuSlotId[i] = slot
        this.cpuSlotUs[i] = 0
      }
      this.cpuSlotUs[i]! += cpuUs
    }
  }

  /** CPU used over the last minute, in millicores (OpenFaaS's usage.cpu). */
  cpuMillicores(): number {
    const slot = Math.floor(this.meter.now() / CPU_SLOT_MS)
    let us = 0
    for (let i = 0; i < CPU_SLOTS; i++) if (slot - this.cpuSlotId[i]! < CPU_SLOTS) us += this.cpuSlotUs[i]!
    return us / (CPU_SLOTS * CPU_SLOT_MS)
  }

  /** takes the open minute for a write */
  takeOpen(): UsageRow | undefined {
    if (this.open.invocations === 0) return undefined
    const row = { key: this.key, minute: this.minute, ...this.open }
    this.open = { ...ZERO }
    return row
  }
}

function addCall(t: UsageTotals, wallUs: number, cpuUs: number | undefined, gibUs: number, bytesIn: number, bytesOut: number): void {
  t.invocations++
  t.wallUs += wallUs
  t.gibUs += gibUs
  t.bytesIn += bytesIn
  t.bytesOut += bytesOut
  if (cpuUs !== undefined) {
    t.cpuUs += cpuUs
    t.cpuCalls++
  }
}

export interface UsageMeterOptions {
  /** how often the minutes are written; 0 = only at close (tests) */
  flushMs: number
  /** rows older than this are deleted at a write (0 = kept for ever) */
  retentionMs: number
  /** tests: the clock */
  now?: () => number
}

export class UsageMeter {
  private readonly functions = new Map<string, FunctionUsage>()
  /** finished minutes not written yet (also those a full disk refused) */
  private sealed: UsageRow[] = []
  private readonly stored: Map<string, UsageTotals>
  private readonly timer: NodeJS.Timeout | undefined
  readonly now: () => number

  constructor(private readonly store: UsageStore | undefined, private readonly opts: UsageMeterOptions) {
    this.now = opts.now ?? Date.now
    this.stored = store?.totals() ?? new Map()
    if (opts.flushMs > 0) {
      this.timer = setInterval(() => this.flush(), opts.flushMs)
      this.timer.unref()
    }
  }

  forFunction(key: string): FunctionUsage {
    let u = this.functions.get(key)
    if (!u) {
      u = new FunctionUsage(key, this, this.stored.get(key))
      this.stored.delete(key)
      this.functions.set(key, u)
    }
    return u
  }

  seal(row: UsageRow): void {
    this.sealed.push(row)
  }

  /** Writes every minute not written yet in one transaction; a full disk keeps them for the next try. */
  flush(): void {
    const rows = this.sealed
    this.sealed = []
    for (const u of this.functions.values()) {
      const r = u.takeOpen()
      if (r) rows.push(r)
    }
    if (!rows.length || !this.store) {
      if (!this.store) this.sealed = rows.slice(-10_000)
      return
    }
    const prune = this.opts.retentionMs > 0 ? Math.floor((this.now() - this.opts.retentionMs) / MINUTE_MS) : undefined
    if (!this.store.add(rows, prune)) this.sealed = rows.concat(this.sealed).slice(-10_000)
  }

  /** Totals per function from sinceMs (a Date.now() time) on, written or not; every function with usage. */
  since(sinceMs: number | undefined): Map<string, UsageTotals> {
    const from = sinceMs === undefined ? undefined : Math.floor(sinceMs / MINUTE_MS)
    const out = this.store?.totals(from) ?? new Map<string, UsageTotals>()
    const add = (r: UsageRow) => {
      if (from !== undefined && r.minute < from) return
      let t = out.get(r.key)
      if (!t) out.set(r.key, (t = { ...ZERO }))
      addInto(t, r)
    }
    for (const r of this.sealed) add(r)
    for (const u of this.functions.values()) if (u.open.invocations > 0) add({ key: u.key, minute: u.minute, ...u.open })
    return out
  }

  /** every function with usage since history began (the /metrics counters) */
  totals(): IterableIterator<FunctionUsage> {
    return this.functions.values()
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.flush()
  }
}
