// Worker threads for the `thread` tier, inside an app host. Each sandbox owns one worker, driven
// through a single-thread piscina (task correlation, abort = terminate the worker, resourceLimits).
// Workers are started ahead as spares, one set per heap limit (resourceLimits are fixed when a
// worker starts), so that a new sandbox takes a booted worker and only pays the module hand-over
// and one instantiation instead of a worker start, as SOCK's zygotes do for processes.
import { Piscina } from 'piscina'
import { siblingEntry } from '../apphost/host-process.js'
import type { WorkerReply, WorkerTask } from './worker.js'

const entry = siblingEntry(import.meta.url, 'worker')

/** One worker thread, started (or starting) through its own single-thread piscina. */
export class WorkerHandle {
  readonly pool: Piscina<WorkerTask, WorkerReply>
  /** settles when the worker has booted and imported the task handler */
  readonly booted: Promise<void>
  readonly heapMiB: number
  /** the worker has booted */
  isBooted = false

  constructor(heapMiB: number) {
    this.heapMiB = heapMiB
    this.pool = new Piscina<WorkerTask, WorkerReply>({
      filename: entry.path,
      // started on demand (the ping below) and never re-created behind our back: a worker that
      // dies is replaced by the sandbox that owns it, from the spares
      minThreads: 0,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      // the worker's event loop must run between tasks (for the reset after a call)
      atomics: 'disabled',
      // not the app host's own flags (its heap limit); tsx when running from sources
      execArgv: entry.execArgv,
      resourceLimits: { maxOldGenerationSizeMb: heapMiB, stackSizeMb: 4 },
    })
    // a worker error outside of a task is reported through the task that notices it
    this.pool.on('error', () => {})
    this.booted = this.pool.run({ op: 'ping' }).then(() => {
      this.isBooted = true
    })
    this.booted.catch(() => {})
  }

  run(task: WorkerTask, signal?: AbortSignal): Promise<WorkerReply> {
    return this.pool.run(task, signal ? { signal } : {})
  }

  /** The live worker thread, when there is one. */
  get thread(): import('node:worker_threads').Worker | undefined {
    return this.pool.threads[0]
  }

  destroy(): void {
    this.pool.destroy().catch(() => {})
  }
}

/** Booted workers kept ahead, per heap limit, for the functions loaded in this app host. */
export class WorkerSpares {
  private readonly spares = new Map<number, WorkerHandle[]>()
  /** how many loaded functions use each heap limit (no spares for limits nobody uses) */
  private readonly users = new Map<number, number>()
  private fillScheduled = false
  /** workers started, spares included */
  started = 0

  constructor(private count: number) {}

  setCount(n: number): void {
    this.count = n
    this.scheduleFill()
  }

  addUser(heapMiB: number): void {
    this.users.set(heapMiB, (this.users.get(heapMiB) ?? 0) + 1)
    this.scheduleFill()
  }

  removeUser(heapMiB: number): void {
    const n = (this.users.get(heapMiB) ?? 1) - 1
    if (n > 0) {
      this.users.set(heapMiB, n)
      return
    }
    this.users.delete(heapMiB)
    for (const w of this.spares.get(heapMiB) ?? []) w.destroy()
    this.spares.delete(heapMiB)
  }

  /** A booted (or booting) worker with this heap limit: a spare when there is one, else a new one. */
  take(heapMiB: number): WorkerHandle {
    const list = this.spares.get(heapMiB) ?? []
    // the longest-started spare is the most likely to have booted
    const spare = list.shift()
    this.scheduleFill()
    return spare ?? this.start(heapMiB)
  }

  private start(heapMiB: number): WorkerHandle {
    this.started++
    return new WorkerHandle(heapMiB)
  }

  private scheduleFill(): void {
    if (this.fillScheduled) return
    this.fillScheduled = true
    // off the critical path of the call or spawn that took a spare
    setImmediate(() => {
      this.fillScheduled = false
      for (const heapMiB of this.users.keys()) {
        let list = this.spares.get(heapMiB)
        if (!list) this.spares.set(heapMiB, (list = []))
        while (list.length < this.count) {
          const w = this.start(heapMiB)
          // a spare that fails to boot is dropped; the next fill starts another
          w.booted.catch(() => {
            const i = list!.indexOf(w)
            if (i >= 0) list!.splice(i, 1)
          })
          list.push(w)
        }
      }
    })
  }

  get size(): number {
    let n = 0
    for (const l of this.spares.values()) n += l.length
    return n
  }

  /** spares that have booted */
  get bootedCount(): number {
    let n = 0
    for (const l of this.spares.values()) for (const w of l) if (w.isBooted) n++
    return n
  }

  close(): void {
    for (const l of this.spares.values()) for (const w of l) w.destroy()
    this.spares.clear()
    this.users.clear()
  }
}
