// Worker threads for the `thread` tier, inside an app host. Each sandbox owns one worker, started
// and loaded through a single-thread piscina (resourceLimits, boot, the load task, destroy); its
// calls then go over a port of their own (host-sandbox.ts).
// Workers are started ahead as spares, one set per heap limit (resourceLimits are fixed when a
// worker starts), so that a new sandbox takes a booted worker and only pays the module hand-over
// and one instantiation instead of a worker start, as SOCK's zygotes do for processes.
import { Piscina } from 'piscina'
import { siblingModule } from '../entry.js'
import type { WasmPlan } from '../wasm/plan.js'
import type { WorkerReply, WorkerTask } from './worker.js'

const entry = siblingModule(import.meta.url, 'worker')

/** One worker thread, started (or starting) through its own single-thread piscina. */
export class WorkerHandle {
  readonly pool: Piscina<WorkerTask, WorkerReply>
  /** settles when the worker has booted and imported the task handler */
  readonly booted: Promise<void>
  readonly heapMiB: number
  /** the worker has booted */
  isBooted = false

  /** warmup: a module the worker instantiates once after booting (see WorkerSpares) */
  constructor(heapMiB: number, warmup?: { module: WebAssembly.Module; plan: WasmPlan }) {
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
      // the tasks are two per worker: no need for piscina's timing histograms
      recordTiming: false,
      workerHistogram: false,
    })
    // a worker error outside of a task is reported through the task that notices it
    this.pool.on('error', () => {})
    const boot = this.pool.run({ op: 'ping' })
    // a module that cannot be instantiated only costs the warm-up, never the spare
    this.booted = (warmup ? boot.then(() => this.pool.run({ op: 'warmup', ...warmup }).catch(() => {})) : boot).then(() => {
      this.isBooted = true
    })
    this.booted.catch(() => {})
  }

  run(task: WorkerTask, transferList?: import('node:worker_threads').TransferListItem[]): Promise<WorkerReply> {
    return this.pool.run(task, transferList ? { transferList } : {})
  }

  /** The live worker thread, when there is one. */
  get thread(): import('node:worker_threads').Worker | undefined {
    return this.pool.threads[0]
  }

  destroy(): void {
    this.pool.destroy().catch(() => {})
  }
}

/**
 * Booted workers kept ahead, per heap limit, for the functions loaded in this app host. A spare
 * also instantiates a module once (the last one loaded): the first instance in a new isolate costs
 * about twice a later one, whichever module it is, and that is better paid before a sandbox needs it.
 */
export class WorkerSpares {
  private readonly spares = new Map<number, WorkerHandle[]>()
  private warmup: { module: WebAssembly.Module; plan: WasmPlan } | undefined
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

  addUser(heapMiB: number, warmup?: { module: WebAssembly.Module; plan: WasmPlan }): void {
    if (warmup) this.warmup = warmup
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
    // the taker calls refill() once its load is done: a worker start takes this thread for a
    // moment and its boot competes for the CPU, which must not land on the load's critical path
    return spare ?? this.start(heapMiB)
  }

  /** Starts the spares that are missing, soon (after a sandbox took one). */
  refill(): void {
    this.scheduleFill()
  }

  private start(heapMiB: number, spare = false): WorkerHandle {
    this.started++
    return new WorkerHandle(heapMiB, spare ? this.warmup : undefined)
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
          const w = this.start(heapMiB, true)
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
