// Group commit: the writes of the async queue made in one turn of the event loop are committed in
// one SQLite transaction (a commit costs more than a row here, ~150 µs against ~30 µs). Each
// caller's promise resolves only once its write is committed, so a 202 still means "on disk".
// On a full disk an accept is refused at once (507), while a state change of a call already
// accepted waits, and is committed once there is space again: the worker never loses a result
// to a full disk and never throws out of its loop.
import type { Db } from '../registry/db.js'
import { type Storage, storageOf } from '../registry/storage.js'

interface Op {
  fn(): void
  resolve(): void
  reject(e: unknown): void
}

export class GroupCommit {
  private ops: Op[] = []
  private scheduled = false
  /** state changes that failed for lack of space, tried again at each storage check */
  private waiting: Op[] = []
  private retryTimer: NodeJS.Timeout | undefined
  private readonly storage: Storage
  private closed = false

  constructor(private readonly db: Db) {
    this.storage = storageOf(db)
    // not at once: recovery can be noticed inside a transaction under way (an accept's admission check)
    this.storage.onRecover(() => setImmediate(() => this.retryWaiting()))
    this.storage.onClose(() => this.giveUp())
  }

  /** Runs `fn` in the next group transaction; resolves after the commit. */
  run(fn: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.ops.push({ fn, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    const ops = this.ops
    this.ops = []
    this.scheduled = false
    try {
      this.db.transaction(() => {
        for (const op of ops) op.fn()
      })()
      for (const op of ops) op.resolve()
    } catch {
      // one write failed and the group was rolled back: commit the others one by one
      for (const op of ops) this.commitOne(op)
    }
  }

  private commitOne(op: Op): void {
    this.storage.admission = false
    try {
      this.db.transaction(op.fn)()
      op.resolve()
    } catch (e) {
      if (!this.storage.failedFull(e)) return op.reject(e)
      if (this.storage.admission) return op.reject(this.storage.refusal('async call', e))
      if (this.closed) return op.reject(this.storage.refusal('async state change (the call runs again at the next start)', e))
      this.waiting.push(op)
      this.armRetry()
    }
  }

  private armRetry(): void {
    if (this.retryTimer) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.retryWaiting()
    }, this.storage.settings.checkIntervalMs)
    this.retryTimer.unref()
  }

  private retryWaiting(): void {
    const ops = this.waiting
    this.waiting = []
    for (const op of ops) this.commitOne(op)
  }

  /** At shutdown: what still waits for space is given up (its call runs again at the next start). */
  private giveUp(): void {
    this.closed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    const ops = this.waiting
    this.waiting = []
    for (const op of ops) op.reject(this.storage.refusal('async state change'))
  }
}
