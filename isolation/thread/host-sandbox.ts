// One sandbox of the `thread` tier, inside the app host: a worker thread holding one instance of
// the function. At the deadline the app host's main thread raises the sandbox's cancel flag (the
// compiled-in checks read it, beside the clock); a worker that still runs grace ms later is
// terminated. A worker that dies, or is terminated, is replaced from the spares at once, so the
// next call finds a live worker with the function loaded.
import { performance } from 'node:perf_hooks'
import type { InvokeRequest, InvokeResult } from '../tier.js'
import type { WasmPlan } from '../wasm/plan.js'
import type { WorkerReply } from './worker.js'
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

const TEXT = { 'content-type': 'text/plain; charset=utf-8' }

function failure(status: number, errorCode: string, message: string, t0: number): InvokeResult {
  return { status, headers: TEXT, body: Buffer.from(`${message}\n`), errorCode, timings: { instantiateUs: 0, runUs: 0, totalUs: (performance.now() - t0) * 1000 } }
}

export class ThreadSandboxHost {
  private worker: WorkerHandle
  /** the function is loaded in the current worker once this settles */
  private loading: Promise<number>
  private readonly cancelFlag = new Int32Array(new SharedArrayBuffer(4))
  private disposed = false
  /** worker replacements (deaths and terminations) */
  replacements = 0

  constructor(private readonly fn: ThreadFunctionInfo) {
    this.worker = fn.spares.take(fn.heapMiB)
    this.loading = this.load(this.worker)
  }

  /** Resolves with the microseconds the first instantiation took. */
  ready(): Promise<number> {
    return this.loading
  }

  private async load(w: WorkerHandle): Promise<number> {
    const reply = await w.run({ op: 'load', fnId: this.fn.fnId, module: this.fn.module, plan: this.fn.plan, cancelFlag: this.cancelFlag })
    if (reply.op !== 'loaded') throw new Error(`worker answered ${reply.op} to load`)
    // a worker that dies while idle (killed, or out of memory in a reset) is replaced right away
    const thread = w.thread
    thread?.once('exit', () => {
      if (!this.disposed && this.worker === w) this.replace(w, 'exited')
    })
    return reply.instantiateUs
  }

  /** Swaps in a fresh worker (a spare when there is one) and loads the function there. */
  private replace(dead: WorkerHandle, reason: string): void {
    if (this.worker !== dead) return
    dead.destroy()
    this.replacements++
    this.fn.onWorkerLost(reason)
    if (this.disposed) return
    const w = this.fn.spares.take(this.fn.heapMiB)
    this.worker = w
    this.loading = this.load(w)
    this.loading.catch(() => {})
  }

  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    const t0 = performance.now()
    try {
      await this.loading
    } catch (e) {
      this.replace(this.worker, 'failed to load')
      return failure(502, 'KINDLING_ERR_SANDBOX_FAILED', `the worker thread could not load the function: ${(e as Error).message}`, t0)
    }
    const w = this.worker
    const abort = new AbortController()
    let timedOut = false
    // one timer: raise the cancel flag at the deadline, terminate the worker grace ms later
    let timer = setTimeout(() => {
      Atomics.store(this.cancelFlag, 0, 1)
      timer = setTimeout(() => {
        timedOut = true
        abort.abort()
      }, this.fn.graceMs)
    }, Math.max(0, req.deadline - Date.now()))
    // a pooled Buffer would clone its whole 8 KiB slab into the worker
    const body = req.body.byteLength === req.body.buffer.byteLength ? req.body : Buffer.from(new Uint8Array(req.body))
    const task = { op: 'invoke' as const, fnId: this.fn.fnId, req: { ...req, body } }
    try {
      let reply: WorkerReply = await w.run(task, abort.signal)
      if (reply.op === 'need-load') {
        await (this.loading = this.load(w))
        reply = await w.run(task, abort.signal)
      }
      if (reply.op !== 'result') throw new Error(`worker answered ${reply.op} to invoke`)
      const r = reply.result
      r.body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)
      return r
    } catch (e) {
      const code = (e as { code?: string }).code
      if (timedOut) {
        this.replace(w, 'terminated after a call ran past its timeout')
        return failure(504, 'KINDLING_ERR_TIMEOUT', `the call ran past its timeout; its worker thread did not stop within ${this.fn.graceMs} ms and was terminated and replaced`, t0)
      }
      this.replace(w, code ?? 'crashed')
      if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
        return failure(500, 'KINDLING_ERR_MEMORY_LIMIT', `the function's worker thread reached its heap limit of ${this.fn.heapMiB} MiB and was replaced`, t0)
      }
      return failure(502, 'KINDLING_ERR_HOST_DIED', `the worker thread running this call died (${(e as Error).message}); it has been replaced`, t0)
    } finally {
      clearTimeout(timer)
      // the call is over: a raised flag must not interrupt the reset or the next instantiation
      Atomics.store(this.cancelFlag, 0, 0)
    }
  }

  /** Ends the worker abruptly, as a crash would (tests and operators); the sandbox replaces it. */
  async kill(): Promise<void> {
    const w = this.worker
    await w.booted.catch(() => {})
    await this.loading.catch(() => {})
    const thread = w.thread
    if (!thread) return
    const gone = new Promise<void>((res) => thread.once('exit', () => res()))
    void thread.terminate()
    await gone
  }

  get threadId(): number | undefined {
    return this.worker.thread?.threadId
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.worker.destroy()
  }
}
