// Usage history in the data dir's SQLite: one row per function and minute, added to in batches by
// the meter (never per call), so `kindling usage --since 7d` spans restarts.
import { type Db, migrate } from '../registry/db.js'
import { isStorageFullError } from '../errors.js'

/** What a function used over some span; sums add up. */
export interface UsageTotals {
  invocations: number
  /** wall time of the calls as the gateway saw them (queue wait included), in microseconds */
  wallUs: number
  /** CPU time of the calls whose tier could measure it, in microseconds */
  cpuUs: number
  /** how many calls cpuUs covers */
  cpuCalls: number
  /** memory limit x wall time, in GiB-microseconds (GB-seconds x 1e6, as clouds bill) */
  gibUs: number
  bytesIn: number
  bytesOut: number
}

export const ZERO: Readonly<UsageTotals> = Object.freeze({ invocations: 0, wallUs: 0, cpuUs: 0, cpuCalls: 0, gibUs: 0, bytesIn: 0, bytesOut: 0 })

export function addInto(into: UsageTotals, more: Readonly<UsageTotals>): void {
  into.invocations += more.invocations
  into.wallUs += more.wallUs
  into.cpuUs += more.cpuUs
  into.cpuCalls += more.cpuCalls
  into.gibUs += more.gibUs
  into.bytesIn += more.bytesIn
  into.bytesOut += more.bytesOut
}

/** One batch row: a function's usage within one minute. */
export interface UsageRow extends UsageTotals {
  key: string
  /** Unix minute (ms / 60000, floored) */
  minute: number
}

const COLUMNS = ['invocations', 'wall_us', 'cpu_us', 'cpu_calls', 'gib_us', 'bytes_in', 'bytes_out'] as const
const SUMS = COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')

export class UsageStore {
  private readonly upsert
  private readonly sumSince
  private readonly sumAll
  private readonly prune

  constructor(private readonly db: Db) {
    migrate(db, [{
      name: 'usage-minutes-1',
      sql: `CREATE TABLE usage_minutes (
              function TEXT NOT NULL, minute INTEGER NOT NULL,
              ${COLUMNS.map((c) => `${c} ${c === 'gib_us' ? 'REAL' : 'INTEGER'} NOT NULL DEFAULT 0`).join(', ')},
              PRIMARY KEY (function, minute)) WITHOUT ROWID;
            CREATE INDEX usage_minutes_minute ON usage_minutes (minute);`,
    }])
    this.upsert = db.prepare(`INSERT INTO usage_minutes (function, minute, ${COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (function, minute) DO UPDATE SET ${COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`)
    this.sumSince = db.prepare(`SELECT function, ${SUMS} FROM usage_minutes WHERE minute >= ? GROUP BY function`)
    this.sumAll = db.prepare(`SELECT function, ${SUMS} FROM usage_minutes GROUP BY function`)
    this.prune = db.prepare('DELETE FROM usage_minutes WHERE minute < ?')
  }

  /** Adds a batch in one transaction; false when the disk is full (the caller keeps the rows). */
  add(rows: readonly UsageRow[], pruneBeforeMinute?: number): boolean {
    try {
      this.db.transaction(() => {
        for (const r of rows) this.upsert.run(r.key, r.minute, r.invocations, Math.round(r.wallUs), Math.round(r.cpuUs), r.cpuCalls, r.gibUs, r.bytesIn, r.bytesOut)
        if (pruneBeforeMinute !== undefined) this.prune.run(pruneBeforeMinute)
      })()
      return true
    } catch (e) {
      if (isStorageFullError(e)) return false
      throw e
    }
  }

  /** Totals per function from a minute on (every stored minute when undefined). */
  totals(sinceMinute?: number): Map<string, UsageTotals> {
    const rows = (sinceMinute === undefined ? this.sumAll.all() : this.sumSince.all(sinceMinute)) as Record<string, number | string>[]
    const out = new Map<string, UsageTotals>()
    for (const r of rows) {
      out.set(r.function as string, {
        invocations: Number(r.invocations), wallUs: Number(r.wall_us), cpuUs: Number(r.cpu_us), cpuCalls: Number(r.cpu_calls),
        gibUs: Number(r.gib_us), bytesIn: Number(r.bytes_in), bytesOut: Number(r.bytes_out),
      })
    }
    return out
  }
}
