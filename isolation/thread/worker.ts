// The code inside one worker thread of the `thread` tier (a piscina task handler). A worker serves
// one sandbox of one function: `load` hands it the compiled module (a structured clone, not a
// recompile) and the sandbox's cancel flag; `invoke` runs one call in its WasmSandboxCore. The
// snapshot reset (or the next instance) is made right after the result has been posted, off the
// critical path: piscina runs with atomics disabled so that this thread's event loop keeps turning.
import { threadId } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import type { InvokeRequest, InvokeResult } from '../tier.js'
import type { WasmPlan } from '../wasm/plan.js'
import { WasmFunction, type WasmSandboxCore } from '../wasm/runner.js'

export type WorkerTask =
  | { op: 'ping' }
  | { op: 'load'; fnId: string; module: WebAssembly.Module; plan: WasmPlan; cancelFlag: Int32Array }
  | { op: 'invoke'; fnId: string; req: InvokeRequest }

export type WorkerReply =
  | { op: 'pong'; threadId: number }
  | { op: 'loaded'; threadId: number; instantiateUs: number; loadUs: number }
  /** this worker does not hold the function (it replaced a worker that died): load it again */
  | { op: 'need-load'; threadId: number }
  | { op: 'result'; result: InvokeResult }

let loaded: { fnId: string; core: WasmSandboxCore } | undefined
let cleanupPending = false

function scheduleCleanup(): void {
  if (cleanupPending) return
  cleanupPending = true
  setImmediate(() => {
    cleanupPending = false
    loaded?.core.cleanup()
  })
}

export default function handle(task: WorkerTask): WorkerReply {
  switch (task.op) {
    case 'ping':
      return { op: 'pong', threadId }
    case 'load': {
      const t0 = performance.now()
      const fn = new WasmFunction(task.module, task.plan)
      const core = fn.createSandbox(task.cancelFlag)
      loaded = { fnId: task.fnId, core }
      const instantiateUs = core.ensureInstance()
      return { op: 'loaded', threadId, instantiateUs, loadUs: (performance.now() - t0) * 1000 }
    }
    case 'invoke': {
      if (loaded?.fnId !== task.fnId) return { op: 'need-load', threadId }
      const r = task.req
      // a Buffer arrives as a plain Uint8Array after the structured clone
      const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)
      const result = loaded.core.run({ ...r, body })
      scheduleCleanup()
      return { op: 'result', result }
    }
  }
}
