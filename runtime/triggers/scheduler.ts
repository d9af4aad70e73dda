// Fires cron schedules: one timer per schedule, set for its next tick (no polling). Ticks are wall
// clock instants computed from the schedule, never from the previous timer, so late timers do not
// drift. Each tick fires at most once: after tick T the next one is searched strictly after
// max(now, T), so a clock stepped back does not fire T again, and a timer woken early (the clock
// moved, or a long wait was capped) only sets itself again. Ticks missed while kindling was stopped
// are not replayed; after a forward clock step the one tick that was due fires once, within a minute.
import type { CronSchedule } from './cron.js'

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

/**
 * Longest single wait. Timers run on the monotonic clock, so a wall clock stepped forward is noticed
 * at the next wake: at most a minute late. (Node's timers also cap at 24.8 days.)
 */
const MAX_WAIT_MS = 60_000

interface Entry {
  schedule: CronSchedule
  fire: (tickMs: number) => void
  /** the last tick fired (-Infinity: none yet) */
  last: number
  due: number | undefined
  timer: unknown
}

export class CronScheduler {
  private readonly entries = new Map<string, Entry>()
  private closed = false

  constructor(private readonly clock: Clock = realClock) {}

  /** Schedules (or reschedules) `key`; the last tick fired under the key is kept, so that an update does not fire it twice. */
  set(key: string, schedule: CronSchedule, fire: (tickMs: number) => void): void {
    const old = this.entries.get(key)
    if (old) this.clock.clearTimeout(old.timer)
    const e: Entry = { schedule, fire, last: old?.last ?? -Infinity, due: undefined, timer: undefined }
    this.entries.set(key, e)
    this.arm(key, e)
  }

  delete(key: string): void {
    const e = this.entries.get(key)
    if (!e) return
    this.clock.clearTimeout(e.timer)
    this.entries.delete(key)
  }

  /** the next tick of `key` (ms), for status and tests */
  nextTick(key: string): number | undefined {
    return this.entries.get(key)?.due
  }

  keys(): string[] {
    return [...this.entries.keys()]
  }

  close(): void {
    this.closed = true
    for (const e of this.entries.values()) this.clock.clearTimeout(e.timer)
    this.entries.clear()
  }

  private arm(key: string, e: Entry): void {
    if (this.closed) return
    const now = this.clock.now()
    e.due = e.schedule.next(Math.max(now, e.last))
    if (e.due === undefined) return
    e.timer = this.clock.setTimeout(() => this.wake(key, e), Math.min(Math.max(0, e.due - now), MAX_WAIT_MS))
  }

  private wake(key: string, e: Entry): void {
    if (this.entries.get(key) !== e) return
    const due = e.due!
    if (this.clock.now() >= due) {
      e.last = due
      try {
        e.fire(due)
      } catch {
        /* the fire callback reports its own failures */
      }
    }
    this.arm(key, e)
  }
}
