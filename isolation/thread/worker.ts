// The code inside one worker thread of the `thread` tier. piscina starts the worker and runs its
// two tasks: `ping` (booted) and `load`, which hands over the compiled module (a structured clone,
// not a recompile), the sandbox's cancel flag and a MessagePort. Calls then arrive on that port
// directly: a piscina task costs about twice a plain port round trip (bench/tiers). After each
// call the snapshot reset (or the next instance) runs once the result has been posted, off the
// critical path; piscina runs with atomics disabled so that this thread's event loop keeps turning.
import type { MessagePort } from 'node:worker_threads'
import { threadId } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import type { InvokeRequest, InvokeResult } from '../tier.js'
import type { WasmPlan } from '../wasm/plan.js'
import { WasmFunction, type WasmSandboxCore } from '../wasm/runner.js'

export type WorkerTask =
  | { op: 'ping' }
  | { op: 'load'; module: WebAssembly.Module; plan: WasmPlan; cancelFlag: Int32Array; port: MessagePort }
  /** a spare instantiates a module once, so the first instance of a sandbox does not pay for a cold isolate */
  | { op: 'warmup'; module: WebAssembly.Module; plan: WasmPlan }

export type WorkerReply =
  | { op: 'pong'; threadId: number }
  | { op: 'loaded'; threadId: number; instantiateUs: number; loadUs: number }
  | { op: 'warmed'; instantiateUs: number }

/** A call on the sandbox's port, and its answer. */
export interface PortCall {
  id: number
  req: InvokeRequest
}
export interface PortResult {
  id: number
  result: InvokeResult
}

let core: WasmSandboxCore | undefined
let cleanupPending = false

function scheduleCleanup(): void {
  if (cleanupPending) return
  cleanupPending = true
  setImmediate(() => {
    cleanupPending = false
    core?.cleanup()
  })
}

function onCall(port: MessagePort, m: PortCall): void {
  const r = m.req
  // a Buffer arrives as a plain Uint8Array after the structured clone
  const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)
  const result = core!.run({ ...r, body })
  port.postMessage({ id: m.id, result } satisfies PortResult)
  scheduleCleanup()
}

export default function handle(task: WorkerTask): WorkerReply {
  switch (task.op) {
    case 'ping':
      return { op: 'pong', threadId }
    case 'warmup': {
      const sb = new WasmFunction(task.module, task.plan).createSandbox()
      const instantiateUs = sb.ensureInstance()
      sb.dispose()
      return { op: 'warmed', instantiateUs }
    }
    case 'load': {
      // a worker serves one sandbox of one function, once
      if (core) throw new Error('this worker already holds a function')
      const t0 = performance.now()
      core = new WasmFunction(task.module, task.plan).createSandbox(task.cancelFlag)
      const instantiateUs = core.ensureInstance()
      const port = task.port
      port.on('message', (m: PortCall) => onCall(port, m))
      return { op: 'loaded', threadId, instantiateUs, loadUs: (performance.now() - t0) * 1000 }
    }
  }
}
