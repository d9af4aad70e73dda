// Takes due callback deliveries out of the store by id only (not their result bodies, which may be
// large) and holds them, so that the worker can queue them per origin in memory and load each row
// when its turn comes. A held row is due again only after HOLD_MS; a restart makes it due at once
// (AsyncStore.recover), so a kill loses nothing.
import type { Db } from '../registry/db.js'

/** Below setTimeout's limit (24.8 days), far above any delivery's wait in one process. */
export const HOLD_MS = 20 * 24 * 3_600_000

export class DeliveryLeases {
  private readonly due
  private readonly hold

  constructor(private readonly db: Db) {
    this.due = db.prepare(`SELECT id, callback_url FROM async_calls WHERE state = 'delivering' AND next_run_at <= ? ORDER BY next_run_at, seq LIMIT ?`)
    this.hold = db.prepare(`UPDATE async_calls SET next_run_at = ? WHERE id = ? AND state = 'delivering'`)
  }

  /** Up to `limit` due deliveries, oldest first, held from now on. */
  holdDue(now: number, limit: number): { id: string; callback_url: string }[] {
    return this.db.transaction(() => {
      const rows = this.due.all(now, limit) as { id: string; callback_url: string }[]
      for (const r of rows) this.hold.run(now + HOLD_MS, r.id)
      return rows
    })()
  }
}
