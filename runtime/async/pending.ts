// In-memory counts of unfinished asynchronous calls, kept in step with the store's state changes,
// so that accepting a call (queue bound), the metrics and the autoscaler never count rows.
import type { CallState } from './store.js'

type Pending = 'queued' | 'running' | 'delivering'

export class PendingCounts {
  readonly byState: Record<Pending, number> = { queued: 0, running: 0, delivering: 0 }
  /** queued + running per function key: calls that still need the function */
  readonly byFunction = new Map<string, number>()

  load(rows: { fnKey: string; state: CallState; n: number }[]): void {
    this.byState.queued = this.byState.running = this.byState.delivering = 0
    this.byFunction.clear()
    for (const r of rows) if (r.state === 'queued' || r.state === 'running' || r.state === 'delivering') this.adjust(r.fnKey, r.state, r.n)
  }

  get total(): number {
    return this.byState.queued + this.byState.running + this.byState.delivering
  }

  add(fnKey: string): void {
    this.adjust(fnKey, 'queued', 1)
  }

  /** A call moved between states; `to` undefined means it finished. */
  move(fnKey: string, from: Pending, to: Pending | undefined): void {
    this.adjust(fnKey, from, -1)
    if (to) this.adjust(fnKey, to, 1)
  }

  private adjust(fnKey: string, state: Pending, n: number): void {
    this.byState[state] += n
    if (state === 'delivering') return
    const v = (this.byFunction.get(fnKey) ?? 0) + n
    if (v > 0) this.byFunction.set(fnKey, v)
    else this.byFunction.delete(fnKey)
  }
}
