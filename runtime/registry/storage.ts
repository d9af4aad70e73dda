// The data dir's free space, and what kindling does when it runs out. Degraded mode starts when a
// write fails for lack of space, or when a check finds less free space than the reserve
// (storageMinFreeBytes); it ends when a check finds the reserve again (every storageCheckIntervalMs,
// and before each write that degraded mode would refuse). While degraded, the writes a caller or
// the operator asks for (async accepts, deploys, uploads, secret writes) answer 507; calls are
// still served and the reserve is left for the state changes of calls already accepted.
import fs from 'node:fs'
import { isStorageFullError, KindlingError } from '../errors.js'
import type { Db } from './db.js'

export interface StorageSettings {
  minFreeBytes: number
  checkIntervalMs: number
}

export const DEFAULT_STORAGE_SETTINGS: StorageSettings = { minFreeBytes: 16 * 1024 * 1024, checkIntervalMs: 5_000 }

export interface StorageStatus {
  degraded: boolean
  reason?: string
  since?: string
  freeBytes: number | null
  minFreeBytes: number
}

export class Storage {
  private degradedSince: Date | undefined
  private reason = ''
  private timer: NodeJS.Timeout | undefined
  private readonly recoverListeners: (() => void)[] = []
  private readonly closeListeners: (() => void)[] = []
  /**
   * Set by a write that degraded mode may refuse (an async accept) while it runs inside a group
   * transaction, so the group commit knows to answer its caller 507 instead of waiting for space.
   */
  admission = false

  constructor(
    readonly dir: string,
    readonly settings: StorageSettings = DEFAULT_STORAGE_SETTINGS,
    private readonly say: (line: string) => void = (l) => void process.stderr.write(`kindling: ${l}\n`),
  ) {}

  get degraded(): boolean {
    return this.degradedSince !== undefined
  }

  freeBytes(): number | null {
    try {
      const s = fs.statfsSync(this.dir)
      return s.bavail * s.bsize
    } catch {
      return null
    }
  }

  status(): StorageStatus {
    const s: StorageStatus = { degraded: this.degraded, freeBytes: this.freeBytes(), minFreeBytes: this.settings.minFreeBytes }
    if (this.degradedSince) {
      s.reason = this.reason
      s.since = this.degradedSince.toISOString()
    }
    return s
  }

  /** Looks at the free space: enters or leaves degraded mode. */
  check(): void {
    let s: fs.StatsFs
    try {
      s = fs.statfsSync(this.dir)
    } catch {
      return
    }
    const free = s.bavail * s.bsize
    if (free < this.settings.minFreeBytes) this.enter(`the data dir has ${free} bytes free, less than the ${this.settings.minFreeBytes} kept in reserve`)
    // out of inodes is ENOSPC too (file systems without inode counts report 0 files in all)
    else if (s.files > 0 && s.ffree === 0) this.enter('the data dir\'s file system has no free inodes')
    else this.leave()
  }

  /** Checks periodically from now on (the timer does not keep the process alive). */
  start(): void {
    this.check()
    this.timer ??= setInterval(() => this.check(), this.settings.checkIntervalMs)
    this.timer.unref()
  }

  /** Before a write degraded mode refuses: throws 507 while there is still no space. */
  admit(what: string): void {
    if (!this.degraded) return
    this.check()
    if (this.degraded) throw this.refusal(what)
  }

  refusal(what: string, cause?: unknown): KindlingError {
    return new KindlingError('KINDLING_ERR_STORAGE_FULL', `${what} refused: ${this.reason || 'no space left in the data dir'}`, { cause })
  }

  /** Whether a failed write failed for lack of space (then degraded mode starts). */
  failedFull(e: unknown): boolean {
    let full = isStorageFullError(e)
    // SQLite reports some ENOSPC as an I/O error (SQLITE_IOERR_WRITE, _SHMSIZE, ...): ask the file system
    if (!full && /^SQLITE_IOERR/.test(String((e as { code?: unknown } | null)?.code))) {
      const free = this.freeBytes()
      full = free !== null && free < Math.max(this.settings.minFreeBytes, 1024 * 1024)
    }
    if (full) this.enter(`a write failed for lack of space (${(e as Error).message})`)
    return full
  }

  enter(reason: string): void {
    this.reason = reason
    if (this.degradedSince) return
    this.degradedSince = new Date()
    this.say(`degraded: ${reason}; async accepts, deploys, uploads and secret writes answer 507 until there is space, calls are still served`)
  }

  private leave(): void {
    if (!this.degradedSince) return
    this.degradedSince = undefined
    this.reason = ''
    this.say('the data dir has space again: degraded mode is over')
    for (const l of this.recoverListeners) l()
  }

  onRecover(l: () => void): void {
    this.recoverListeners.push(l)
  }

  onClose(l: () => void): void {
    this.closeListeners.push(l)
  }

  /** Stops the checks; writes waiting for space give up (the calls they belong to run again at the next start). */
  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    for (const l of this.closeListeners) l()
  }
}

const storages = new WeakMap<Db, Storage>()

export function attachStorage(db: Db, storage: Storage): void {
  storages.set(db, storage)
}

/** The storage of a database opened by openDatabase (one that was not gets one on first use). */
export function storageOf(db: Db): Storage {
  let s = storages.get(db)
  if (!s) {
    s = new Storage(db.name === ':memory:' || db.memory ? '.' : db.name.replace(/[/\\][^/\\]*$/, ''))
    storages.set(db, s)
  }
  return s
}

/**
 * A write a caller or the operator asked for: refused with 507 while degraded (unless `admit` is
 * false: removals free space), and a failure for lack of space becomes 507 too.
 */
export function storageWrite<T>(db: Db, what: string, fn: () => T, opts: { admit?: boolean } = {}): T {
  const s = storageOf(db)
  if (opts.admit !== false) s.admit(what)
  try {
    return fn()
  } catch (e) {
    if (s.failedFull(e)) throw s.refusal(what, e)
    throw e
  }
}

/**
 * A write kindling makes for itself that may be lost without harm (a replica override, a prune):
 * on a full disk it is skipped with a note instead of failing the call or the timer that made it.
 */
export function bestEffortWrite<T>(db: Db, what: string, fn: () => T): T | undefined {
  try {
    return fn()
  } catch (e) {
    if (!storageOf(db).failedFull(e)) throw e
    return undefined
  }
}
