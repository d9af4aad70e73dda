// One sandbox of the `thread` tier, inside the app host: a worker thread holding one instance of
// the function, reached through a MessagePort of its own. At the deadline the app host's main
// thread raises the sandbox's cancel flag (the compiled-in checks read it, beside the clock); a
// worker that still runs grace ms later is terminated. A worker that dies, or is terminated, is
// replaced from the spares at once, so the next call finds a live worker with the function loaded.
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import { type ErrorCode, failedResult } from '../errors.js'
import type { InvokeRequest, InvokeResult } from '../tier.js'
import { FLAG_CANCELLED, FLAG_DEADLINE } from '../wasm/cancel-flag.js'
import type { WasmPlan } from '../wasm/plan.js'
import type { PortCall, PortResult } from './worker.js'
import type { WorkerHandle, WorkerSpares } from './worker-pools.js'

export interface ThreadFunctionInfo {
  fnId: string
  module: WebAssembly.Module
  plan: WasmPlan
  heapMiB: number
  graceMs: number
  spares: WorkerSpares
  /** called when a worker of this function died or was terminated (for the host's counters) */
  onWorkerLost(reason: string): void
}

/** The worker currently serving the sandbox, with the host's end of its port. */
interface Loaded {
  handle: WorkerHandle
  thread: Worker
  port: MessagePort
  /** why the worker died, once it has */
  death?: Error & { code?: string }
}

interface Pending {
  resolve(r: InvokeResult): void
  reject(e: Error & { code?: string }): void
}

function failure(code: ErrorCode, detail: string, t0: number): InvokeResult {
  return failedResult(code, detail, { timings: { instantiateUs: 0, runUs: 0, totalUs: (performance.now() - t0) * 1000 } })
}

export class ThreadSandboxHost {
  private current: Promise<Loaded>
  private readonly cancelFlag = new Int32Array(new SharedArrayBuffer(4))
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private disposed = false
  /** a call is under way (from invoke until its answer): a cancel raises the flag only then */
  private inCall = false
  private instantiateUs = 0
  /** worker replacements (deaths and terminations) */
  replacements = 0
  /** the live worker's thread id, once loaded */
  threadId: number | undefined

  constructor(private readonly fn: ThreadFunctionInfo) {
    this.current = this.load(fn.spares.take(fn.heapMiB))
    this.current.catch(() => {})
  }

  /** Resolves with the microseconds the first instantiation took. */
  async ready(): Promise<number> {
    await this.current
    return this.instantiateUs
  }

  private async load(handle: WorkerHandle): Promise<Loaded> {
    const { port1, port2 } = new MessageChannel()
    let reply
    try {
      reply = await handle.run({ op: 'load', module: this.fn.module, plan: this.fn.plan, cancelFlag: this.cancelFlag, port: port2 }, [port2])
    } catch (e) {
      port1.close()
      handle.destroy()
      throw e
    } finally {
      this.fn.spares.refill()
    }
    if (reply.op !== 'loaded') throw new Error(`worker answered ${reply.op} to load`)
    const thread = handle.thread!
    const loaded: Loaded = { handle, thread, port: port1 }
    this.instantiateUs = reply.instantiateUs
    this.threadId = thread.threadId
    port1.on('message', (m: PortResult) => {
      const p = this.pending.get(m.id)
      this.pending.delete(m.id)
      p?.resolve(m.result)
    })
    // the host process must not stay up for a port
    port1.unref()
    thread.once('error', (e: Error) => (loaded.death ??= e))
    thread.once('exit', (code) => {
      loaded.death ??= new Error(`the worker thread exited with code ${code}`)
      port1.close()
      for (const p of this.pending.values()) p.reject(loaded.death)
      this.pending.clear()
      if (!this.disposed) this.replace(loaded, loaded.death.message)
    })
    return loaded
  }

  /** Swaps in a fresh worker (a spare when there is one) and loads the function there. */
  private replace(dead: Loaded, reason: string): void {
    dead.handle.destroy()
    this.replacements++
    this.fn.onWorkerLost(reason)
    this.threadId = undefined
    this.current = this.load(this.fn.spares.take(this.fn.heapMiB))
    this.current.catch(() => {})
  }

  /** The caller hung up: the worker's interrupt checks see the flag, as at the deadline. */
  cancel(): void {
    if (this.inCall) Atomics.store(this.cancelFlag, 0, FLAG_CANCELLED)
  }

  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    const t0 = performance.now()
    this.inCall = true
    let w: Loaded
    try {
      w = await this.current
    } catch (e) {
      this.inCall = false
      // the next call tries a new worker
      this.current = this.load(this.fn.spares.take(this.fn.heapMiB))
      this.current.catch(() => {})
      return failure('KINDLING_ERR_SANDBOX_FAILED', `the worker thread could not load the function: ${(e as Error).message}`, t0)
    }
    let timedOut = false
    // one timer: raise the cancel flag at the deadline, terminate the worker grace ms later
    let timer = setTimeout(() => {
      Atomics.store(this.cancelFlag, 0, FLAG_DEADLINE)
      timer = setTimeout(() => {
        timedOut = true
        void w.thread.terminate()
      }, this.fn.graceMs)
    }, Math.max(0, req.deadline - Date.now()))
    // a pooled Buffer would clone its whole 8 KiB slab into the worker
    const body = req.body.byteLength === req.body.buffer.byteLength ? req.body : Buffer.from(new Uint8Array(req.body))
    try {
      const r = await new Promise<InvokeResult>((resolve, reject) => {
        if (w.death) return reject(w.death)
        const id = this.nextId++
        this.pending.set(id, { resolve, reject })
        w.port.postMessage({ id, req: { ...req, body } } satisfies PortCall)
      })
      r.body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)
      return r
    } catch (e) {
      const err = e as Error & { code?: string }
      if (timedOut) {
        return failure('KINDLING_ERR_TIMEOUT', `the call ran past its timeout; its worker thread did not stop within ${this.fn.graceMs} ms and was terminated and replaced`, t0)
      }
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        return failure('KINDLING_ERR_MEMORY_LIMIT', `the function's worker thread reached its heap limit of ${this.fn.heapMiB} MiB and was replaced`, t0)
      }
      return failure('KINDLING_ERR_HOST_DIED', `the worker thread running this call died (${err.message}); it has been replaced`, t0)
    } finally {
      clearTimeout(timer)
      // the call is over: a raised flag must not interrupt the reset or the next instantiation
      this.inCall = false
      Atomics.store(this.cancelFlag, 0, 0)
    }
  }

  /** Ends the worker abruptly, as a crash would (tests and operators); the sandbox replaces it. */
  async kill(): Promise<void> {
    const w = await this.current.catch(() => undefined)
    if (!w || w.death) return
    const gone = new Promise<void>((res) => w.thread.once('exit', () => res()))
    void w.thread.terminate()
    await gone
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.current.then((w) => {
      w.port.close()
      w.handle.destroy()
    }, () => {})
  }
}
