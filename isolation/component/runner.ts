// Runs calls of one prepared component in the current thread (the gateway for `inline`, an app
// host for `wasm`). jco's bindings are loaded once per process; the core modules are compiled once
// and instantiated through them. Fresh state per call means a new component instance per call: the
// bindings keep per-instance JS state (resource tables) beside the wasm memories, so restoring a
// memory snapshot would not be enough. After a call the next instance is made off the critical
// path when prewarm is on, as WasmSandboxCore does for core modules.
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { failedResult } from '../errors.js'
import { addResponseHeader, type ChainHop, type InvokeRequest, type InvokeResult, type ResponseHeaders } from '../tier.js'
import { isHopByHop } from '../http-headers.js'
import { compileModule } from '../wasm/compile.js'
import { INTERRUPT_IMPORT } from '../wasm/binary/instrument.js'
import { checkCancel, DEFAULT_INSTANTIATE_MS, InterruptedError, isStackOverflow } from '../wasm/runner.js'
import { DeadlineError, OutputBuffer, OutputLimitError } from '../wasm/wasi.js'
import { ComponentHost, type HostCall } from './host/imports.js'
import type { ErrorCode, ResponseSlot } from './host/http.js'
import { ComponentExit } from './host/system.js'
import type { ComponentPlan } from './plan.js'
import { type Preopen, preopenFromPlan } from '../wasm/wasi-fs.js'

type InstantiateCore = (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance
type Instantiate = (getCoreModule: (name: string) => WebAssembly.Module, imports: object, instantiateCore?: InstantiateCore) => Record<string, unknown>
interface Handler {
  handle(request: object, responseOut: object): void
}

const WASM_PAGE = 65536
/** response headers that belong to one connection, not to the function's answer */
const latin1 = new TextDecoder('latin1')

/** One component version loaded in this process. */
export class ComponentFunction {
  /** built once, shared read-only by every sandbox of the function */
  readonly preopens: Preopen[]

  private constructor(
    readonly plan: ComponentPlan,
    readonly instantiate: Instantiate,
    readonly cores: Map<string, WebAssembly.Module>,
  ) {
    this.preopens = plan.preopens.map(preopenFromPlan)
  }

  static async load(plan: ComponentPlan): Promise<ComponentFunction> {
    const bindings = (await import(pathToFileURL(plan.jsPath).href)) as { instantiate: Instantiate }
    const cores = new Map(Object.entries(plan.coreModules).map(([name, file]) => [name, compileModule(fs.readFileSync(file))]))
    return new ComponentFunction(plan, bindings.instantiate, cores)
  }

  createSandbox(cancelFlag?: Int32Array, pollCancel?: () => void): ComponentSandboxCore {
    return new ComponentSandboxCore(this, cancelFlag, pollCancel)
  }
}

interface LiveInstance {
  handler: Handler
  memories: WebAssembly.Memory[]
}

export class ComponentSandboxCore {
  private live: LiveInstance | undefined
  private dirty = false
  private failed = false
  private deadline = Infinity
  /** a call is running (the cancel flag is read only then), as in WasmSandboxCore */
  private calling = false
  private nextPoll = 0
  private readonly host: ComponentHost
  private readonly plan: ComponentPlan
  readonly stats = { instantiations: 0, calls: 0 }

  constructor(
    private readonly fn: ComponentFunction,
    /** word set to 1 to cancel the running call; cleared after each call */
    private readonly cancelFlag?: Int32Array,
    /** reads the app host's socket for a CANCEL while the guest holds the thread */
    private readonly pollCancel?: () => void,
  ) {
    this.plan = fn.plan
    this.host = new ComponentHost(fn.preopens, this.plan.kv)
  }

  private interrupt = (): number => {
    const now = Date.now()
    if (now >= this.deadline) throw new InterruptedError('deadline')
    if (this.cancelFlag && this.calling) this.nextPoll = checkCancel(this.cancelFlag, this.pollCancel, now, this.nextPoll)
    return this.plan.fuel
  }

  /** tracing: the client spans of the outgoing requests of the call under way (issue 13 item 6) */
  private hops: ChainHop[] | undefined

  private newCall(deadline: number, traceparent?: string): HostCall {
    return {
      deadline,
      maxBodyBytes: this.plan.maxOutputBytes,
      // outbound HTTP (issue 13 item 1), traced (item 6)
      outbound: this.plan.outbound,
      trace: { traceparent: () => traceparent, hop: (h) => (this.hops ??= []).push(h) },
      check: () => void this.interrupt(),
      env: Object.entries(this.plan.envVars),
      args: [this.plan.functionName],
      logs: new OutputBuffer(this.plan.maxOutputBytes),
    }
  }

  /**
   * Makes an instance if there is none; returns the microseconds spent (0 when one was ready). Its
   * start code gets the call's deadline, or (ahead of a call) as long as a call would.
   */
  ensureInstance(deadline = Date.now() + (this.plan.instantiateTimeoutMs ?? DEFAULT_INSTANTIATE_MS)): number {
    if (this.live) return 0
    const t0 = performance.now()
    this.deadline = deadline
    // an instance may call the host while it starts (a start function, a constructor)
    this.host.begin(this.newCall(deadline))
    try {
      this.live = this.instantiate()
    } finally {
      this.host.end()
      this.deadline = Infinity
    }
    this.stats.instantiations++
    return (performance.now() - t0) * 1000
  }

  private instantiate(): LiveInstance {
    const memories: WebAssembly.Memory[] = []
    const extra: WebAssembly.Imports = this.plan.interruptible ? { [INTERRUPT_IMPORT.module]: { [INTERRUPT_IMPORT.field]: this.interrupt } } : {}
    const instantiateCore: InstantiateCore = (module, imports = {}) => {
      const instance = new WebAssembly.Instance(module, { ...imports, ...extra })
      for (const e of Object.values(instance.exports)) if (e instanceof WebAssembly.Memory) memories.push(e)
      return instance
    }
    const getCore = (name: string) => {
      const m = this.fn.cores.get(name)
      if (!m) throw new Error(`the bindings asked for core module ${name}, which the transpiler did not write`)
      return m
    }
    const exports = this.fn.instantiate(getCore, this.host.imports, instantiateCore)
    const handler = exports[this.plan.handlerExport] as Handler | undefined
    if (!handler) throw new Error(`the component does not export ${this.plan.handlerExport}`)
    return { handler, memories }
  }

  /** Runs one call synchronously. Never throws for function failures: they become results. */
  run(req: InvokeRequest): InvokeResult {
    const t0 = performance.now()
    if (this.dirty) this.cleanup()
    let instantiateUs = 0
    if (!this.live) {
      try {
        instantiateUs = this.ensureInstance(req.deadline)
      } catch (e) {
        return this.failure(e, undefined, t0, 0)
      }
    }
    const live = this.live!
    this.dirty = true
    this.failed = false
    this.stats.calls++
    const call = this.newCall(req.deadline, req.headers.traceparent)
    this.hops = undefined
    this.deadline = req.deadline
    // the flag is not cleared here: a cancel may be raised before the guest starts
    this.calling = true
    this.host.begin(call)
    const tRun = performance.now()
    const { param, slot } = this.host.http.responseOutparam()
    try {
      live.handler.handle(this.host.http.incomingRequest(req), param)
    } catch (e) {
      this.failed = true
      // exit(ok) after the response was set ends the call normally
      const exitedAfterAnswer = e instanceof ComponentExit && e.code === 0 && slot.value?.tag === 'ok'
      if (!exitedAfterAnswer) return this.failure(e, call.logs, t0, instantiateUs)
    } finally {
      this.host.end()
      this.deadline = Infinity
      this.calling = false
      if (this.cancelFlag) Atomics.store(this.cancelFlag, 0, 0)
    }
    const end = performance.now()
    const result = this.answer(slot, call.logs)
    result.timings = { instantiateUs, runUs: (end - tRun) * 1000, totalUs: (end - t0) * 1000 }
    if (this.hops) result.hops = this.hops
    return result
  }

  private answer(slot: ResponseSlot, logs: OutputBuffer): InvokeResult {
    const stderr = logs.length ? logs.toBuffer().toString() : undefined
    const v = slot.value
    if (!v || v.tag === 'err') {
      this.failed = true
      const why = v ? `the component answered with error-code ${describe(v.val)}` : 'the component returned without setting a response (response-outparam.set)'
      return failedResult('KINDLING_ERR_FUNCTION_FAILED', why, { stderr })
    }
    const headers: ResponseHeaders = {}
    for (const [name, value] of v.val.headers) if (!isHopByHop(name, { contentLength: true })) addResponseHeader(headers, name, latin1.decode(value))
    return { status: v.val.status, headers, body: v.val.body.toBuffer(), stderr }
  }

  private failure(e: unknown, logs: OutputBuffer | undefined, t0: number, instantiateUs: number): InvokeResult {
    const more = { stderr: logs?.length ? logs.toBuffer().toString() : undefined, timings: { instantiateUs, runUs: 0, totalUs: (performance.now() - t0) * 1000 } }
    if (e instanceof InterruptedError && e.why === 'cancelled') return failedResult('KINDLING_ERR_CALL_CANCELLED', 'the client hung up: the call was stopped', more)
    if (e instanceof InterruptedError || e instanceof DeadlineError) return failedResult('KINDLING_ERR_TIMEOUT', 'the call ran past its timeout and was stopped', more)
    if (e instanceof OutputLimitError) return failedResult('KINDLING_ERR_FUNCTION_FAILED', e.message, more)
    if (e instanceof ComponentExit) return failedResult('KINDLING_ERR_FUNCTION_EXIT', e.message, more)
    if (isStackOverflow(e)) return failedResult('KINDLING_ERR_STACK_OVERFLOW', `the function recursed too deep and was stopped at the call stack limit (${(e as Error).message})`, more)
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    const limit = this.plan.maxMemoryPages * WASM_PAGE
    if (this.live?.memories.some((m) => m.buffer.byteLength >= limit)) {
      return failedResult('KINDLING_ERR_MEMORY_LIMIT', `the function reached its memory limit of ${limit / 1048576} MiB (${message})`, more)
    }
    return failedResult('KINDLING_ERR_FUNCTION_TRAP', `the function trapped: ${message}`, more)
  }

  /** Drops the used instance (and makes the next one when prewarm is on). Off the critical path. */
  cleanup(): void {
    if (!this.dirty) return
    this.dirty = false
    if (!this.live) return
    if (this.plan.stateMode === 'reuse' && !this.failed) return
    this.live = undefined
    if (this.plan.prewarm) {
      try {
        this.ensureInstance()
      } catch {
        // the next call makes its instance itself and reports the error
      }
    }
  }

  dispose(): void {
    this.live = undefined
    this.dirty = false
  }
}

function describe(code: ErrorCode): string {
  if (code.val === undefined || code.val === null) return code.tag
  return `${code.tag} (${typeof code.val === 'string' ? code.val : JSON.stringify(code.val, (_k, v) => (typeof v === 'bigint' ? String(v) : v))})`
}
