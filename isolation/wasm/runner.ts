// Runs calls of one prepared WebAssembly function inside the current thread. Shared by the inline
// tier (gateway process), the wasm tier (app host process) and the thread tier (worker thread).
//
// A WasmSandboxCore holds at most one live instance. Per call it either uses the instance it has
// (made ahead of time, or reset to its initial snapshot after the previous call) or makes one on
// the critical path. After the call, `cleanup` restores the snapshot, or drops the instance and,
// when prewarm is on, makes the next one, all off the critical path of the call that just ended.
import { performance } from 'node:perf_hooks'
import { failedResult } from '../errors.js'
import { FLAG_DEADLINE } from './cancel-flag.js'
import type { ChainHop, InvokeRequest, InvokeResult, ResponseHeaders } from '../tier.js'
import { INTERRUPT_IMPORT } from './binary/instrument.js'
import { CHAIN_ERROR, CHAIN_MODULE, type ChainDirectory, MAX_CHAIN_DEPTH } from './chain.js'
import { cgiEnvironment, parseCgiOutput } from './cgi.js'
import type { WasmPlan } from './plan.js'
import { DeadlineError, OutputBuffer, OutputLimitError, runWasiStart, WasiPreview1 } from './wasi.js'
import { MemorySnapshot } from './snapshot.js'
import { type OutboundImports, outboundImports } from './host/outbound.js'
import { type Preopen, preopenFromPlan } from './wasi-fs.js'
import { kvImports } from './host/kv-imports.js'
import { inBounds, readRest } from './guest-memory.js'
import { childTrace } from '../trace-child.js'
import { ResponseHeaderImports } from './host/response-headers.js'
import { asEnvImports, type AsRuntime, getArrayBuffer, getString, newArrayBuffer, newString, setArgumentsLength } from './as-glue.js'

/** Thrown inside the guest by the interrupt import when the deadline passed or the call was cancelled. */
export class InterruptedError extends Error {
  constructor(readonly why: 'deadline' | 'cancelled') {
    super(why === 'deadline' ? 'the call ran past its deadline and was interrupted' : 'the call was cancelled')
    this.name = 'InterruptedError'
  }
}

interface LiveInstance {
  exports: WebAssembly.Exports
  memory: WebAssembly.Memory | undefined
  wasi?: WasiPreview1
  as?: AsRuntime
  /** current call's stderr for AssemblyScript trace() */
  stderr?: OutputBuffer
}

const WASM_PAGE = 65536
/** how often a running guest's interrupt check reads the app host's socket for a CANCEL frame */
export const CANCEL_POLL_MS = 5
/**
 * The cancel half of an interrupt check, for modules and components alike: now and then reads the
 * app host's socket for a CANCEL frame (poll), then throws once the call's flag is up. Returns when
 * to poll next.
 */
export function checkCancel(flag: Int32Array, poll: (() => void) | undefined, now: number, nextPoll: number): number {
  if (poll && now >= nextPoll) {
    nextPoll = now + CANCEL_POLL_MS
    poll()
  }
  const raised = Atomics.load(flag, 0)
  if (raised !== 0) throw new InterruptedError(raised === FLAG_DEADLINE ? 'deadline' : 'cancelled')
  return nextPoll
}

/** instantiation budget of a plan that names none (tests, benchmarks) */
export const DEFAULT_INSTANTIATE_MS = 10_000

/** V8's answer to a recursion past its stack limit: a RangeError, which unwinds the guest cleanly. */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack size/i.test(e.message)
}

/** One function version compiled in this process. */
export class WasmFunction {
  readonly preopens: Preopen[]
  /** the other functions of its application in this process, for kindling.call */
  directory: ChainDirectory | undefined
  /** sandboxes lent to chained calls from other functions */
  private readonly chainSpares: WasmSandboxCore[] = []
  /** initial state shared by every sandbox of this function (snapshot reset), taken once */
  snapshot: MemorySnapshot | undefined
  private chainCleanupScheduled = false
  constructor(
    readonly module: WebAssembly.Module,
    readonly plan: WasmPlan,
  ) {
    this.preopens = plan.preopens.map(preopenFromPlan)
  }

  createSandbox(cancelFlag?: Int32Array, pollCancel?: () => void): WasmSandboxCore {
    return new WasmSandboxCore(this, cancelFlag, pollCancel)
  }

  /** A sandbox for a chained call; give it back with chainReturn. */
  chainBorrow(): WasmSandboxCore {
    return this.chainSpares.pop() ?? this.createSandbox()
  }

  chainReturn(sb: WasmSandboxCore): void {
    this.chainSpares.push(sb)
    if (this.chainCleanupScheduled) return
    this.chainCleanupScheduled = true
    // clean after the outer call, off the chain's critical path (run() also cleans a dirty sandbox)
    setImmediate(() => {
      this.chainCleanupScheduled = false
      for (const spare of this.chainSpares) spare.cleanup()
    })
  }
}

export class WasmSandboxCore {
  private live: LiveInstance | undefined
  private dirty = false
  private failed = false
  private deadline = Infinity
  /** a call is running (the cancel flag is read only then: never during a reset or a prewarm) */
  private calling = false
  /** Date.now() from which the interrupt check polls for cancels again */
  private nextPoll = 0
  private readonly plan: WasmPlan
  readonly stats = { instantiations: 0, resets: 0, calls: 0 }

  constructor(
    private readonly fn: WasmFunction,
    /** word set to 1 to cancel the running call (by another thread, or by pollCancel); cleared after each call */
    private readonly cancelFlag?: Int32Array,
    /**
     * looks for a cancel that arrived while this thread runs the guest (the app host reads its
     * socket): called from the interrupt check at most every CANCEL_POLL_MS
     */
    private readonly pollCancel?: () => void,
  ) {
    this.plan = fn.plan
    this.outbound = outboundImports(fn.plan.outbound, {
      memory: () => this.live?.memory,
      deadline: () => this.deadline,
      check: () => void this.interrupt(),
      // tracing (issue 13 item 6): each request is a client span of the call
      trace: { traceparent: () => this.traceparent, hop: (h) => (this.hops ??= []).push(h) },
    })
  }

  get hasInstance(): boolean {
    return this.live !== undefined
  }

  /**
   * Makes an instance if there is none; returns the microseconds spent (0 when one was ready). Its
   * start code gets the call's deadline, or (ahead of a call) as long as a call would.
   */
  ensureInstance(deadline = Date.now() + (this.plan.instantiateTimeoutMs ?? DEFAULT_INSTANTIATE_MS)): number {
    if (this.live) return 0
    const t0 = performance.now()
    this.deadline = deadline
    this.live = this.instantiate()
    this.stats.instantiations++
    return (performance.now() - t0) * 1000
  }

  /** tracing: the call's traceparent (checked by the gateway), continued into kindling.call */
  private traceparent: string | undefined
  /** tracing: the kindling.call hops of the call under way */
  private hops: ChainHop[] | undefined

  /** response body of the last kindling.call, for kindling.result_read */
  private lastChainResult: Buffer | undefined

  private chainCall = (namePtr: number, nameLen: number, bodyPtr: number, bodyLen: number, outPtr: number, outCap: number, outLenPtr: number): number => {
    const memory = this.live?.memory
    if (!memory) return CHAIN_ERROR.BAD_ARGUMENTS
    const bytes = new Uint8Array(memory.buffer)
    if (!inBounds(bytes, namePtr, nameLen) || !inBounds(bytes, bodyPtr, bodyLen) || !inBounds(bytes, outPtr, outCap) || !inBounds(bytes, outLenPtr, 4)) {
      return CHAIN_ERROR.BAD_ARGUMENTS
    }
    const directory = this.fn.directory
    const namespace = this.plan.key.slice(this.plan.key.lastIndexOf('.') + 1)
    const callee = directory?.resolve(Buffer.from(bytes.buffer, namePtr, nameLen).toString('utf8'), namespace)
    if (!directory) return CHAIN_ERROR.TIER_HAS_NO_CHAIN
    if (!callee) return CHAIN_ERROR.NOT_FOUND
    if (directory.depth >= MAX_CHAIN_DEPTH) return CHAIN_ERROR.TOO_DEEP
    const body = Buffer.from(bytes.slice(bodyPtr, bodyPtr + bodyLen).buffer)
    const sb = callee.chainBorrow()
    directory.depth++
    let result: InvokeResult
    try {
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
      // the callee is a hop of the caller's trace, with a span id of its own
      const child = childTrace(this.traceparent)
      if (!child) {
        result = sb.run({ callId: 'chain', method: 'POST', path: '/', query: '', headers, body, deadline: this.deadline })
      } else {
        headers.traceparent = child.traceparent
        const startMs = Date.now()
        const t = performance.now()
        result = sb.run({ callId: 'chain', method: 'POST', path: '/', query: '', headers, body, deadline: this.deadline })
        const hops = (this.hops ??= [])
        hops.push({ name: callee.plan.key, spanId: child.spanId, parentSpanId: child.parentSpanId, startMs, durUs: (performance.now() - t) * 1000, status: result.status })
        if (result.hops) hops.push(...result.hops)
      }
    } finally {
      directory.depth--
      callee.chainReturn(sb)
    }
    this.lastChainResult = result.body
    // the callee's memory is its own, so the caller's buffer is still attached here
    const out = new Uint8Array(memory.buffer)
    out.set(result.body.subarray(0, outCap), outPtr)
    new DataView(memory.buffer).setUint32(outLenPtr, result.body.length, true)
    return result.status
  }

  private chainResultRead = (ptr: number, offset: number, len: number): number => readRest(this.live?.memory, this.lastChainResult, ptr, offset, len, CHAIN_ERROR.BAD_ARGUMENTS)

  private interrupt = (): number => {
    const now = Date.now()
    if (now >= this.deadline) throw new InterruptedError('deadline')
    if (this.cancelFlag && this.calling) this.nextPoll = checkCancel(this.cancelFlag, this.pollCancel, now, this.nextPoll)
    return this.plan.fuel
  }

  /** outbound HTTP imports (issue 13 item 1) */
  private readonly outbound: OutboundImports
  /** kindling.response_header_set: the headers a module sets on its answer, per call */
  private readonly responseHeaders = new ResponseHeaderImports(() => this.live?.memory)

  /** what instances of this sandbox import: built once, reused by every instance it makes */
  private imports: WebAssembly.Imports | undefined
  private wasi: WasiPreview1 | undefined
  /** the live instance the AssemblyScript trace import writes for */
  private traceTarget: LiveInstance | undefined

  private importsFor(): WebAssembly.Imports {
    if (this.imports) return this.imports
    const plan = this.plan
    const imports: WebAssembly.Imports = {}
    imports[CHAIN_MODULE] = { call: this.chainCall, result_read: this.chainResultRead }
    // key-value state and variables (issue 13, items 2-3): kindling.kv_* and kindling.var_get
    Object.assign(imports[CHAIN_MODULE], kvImports(plan.kv, plan.variables, () => this.live?.memory, { check: () => void this.interrupt() }))
    // outbound HTTP (issue 13 item 1): kindling.http_request / http_response_read, see host/outbound.ts
    Object.assign(imports[CHAIN_MODULE] as object, this.outbound.imports)
    // response headers of modules that are not CGI programs: kindling.response_header_set, see host/response-headers.ts
    Object.assign(imports[CHAIN_MODULE] as object, this.responseHeaders.imports)
    if (plan.interruptible) (imports[INTERRUPT_IMPORT.module] as Record<string, unknown>)[INTERRUPT_IMPORT.field] = this.interrupt
    if (plan.format === 'wasi-command') {
      this.wasi = new WasiPreview1()
      imports.wasi_snapshot_preview1 = this.wasi.imports as unknown as WebAssembly.ModuleImports
    } else {
      imports.env = {
        ...asEnvImports(() => this.live?.memory),
        trace: (msg: number, n: number, ...args: number[]) => {
          const l = this.traceTarget
          if (!l?.as || !l.stderr) return
          const text = `trace: ${getString(l.as.memory, msg)}${n ? ' ' : ''}${args.slice(0, n).join(', ')}\n`
          l.stderr.push(Buffer.from(text))
        },
      }
    }
    return (this.imports = imports)
  }

  private instantiate(): LiveInstance {
    const plan = this.plan
    let imports = this.importsFor()
    let importedMemory: WebAssembly.Memory | undefined
    if (plan.importedMemory) {
      importedMemory = new WebAssembly.Memory({ initial: plan.importedMemory.initial, maximum: plan.importedMemory.maximum })
      imports = { ...imports, [plan.importedMemory.module]: { ...(imports[plan.importedMemory.module] ?? {}), [plan.importedMemory.field]: importedMemory } }
    }
    let live: LiveInstance
    if (plan.format === 'wasi-command') {
      const instance = new WebAssembly.Instance(this.fn.module, imports)
      const memory = importedMemory ?? (instance.exports[plan.memoryExport ?? 'memory'] as WebAssembly.Memory | undefined)
      live = { exports: instance.exports, memory, wasi: this.wasi }
    } else {
      // AssemblyScript: the same imports object for every instance (as-glue.ts, no loader)
      const exports = new WebAssembly.Instance(this.fn.module, imports).exports
      live = { exports, memory: exports.memory as WebAssembly.Memory, as: exports as unknown as AsRuntime }
    }
    if (plan.stateMode === 'fresh' && plan.resetMode === 'snapshot' && plan.snapshotSafe && live.memory) {
      this.fn.snapshot ??= MemorySnapshot.take(live.memory, live.exports, plan.stateGlobals)
    }
    return live
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
    this.deadline = req.deadline
    this.traceparent = req.headers.traceparent
    this.hops = undefined
    // nothing host-side outlives a call, in reuse mode too (only the instance's memory does)
    this.lastChainResult = undefined
    // the flag is not cleared here: a cancel may be raised before the guest starts (thread tier)
    this.calling = true
    this.dirty = true
    this.failed = false
    this.stats.calls++
    const tRun = performance.now()
    const stdout = new OutputBuffer(this.plan.maxOutputBytes)
    const stderr = new OutputBuffer(this.plan.maxOutputBytes)
    let result: InvokeResult
    try {
      result = this.plan.format === 'wasi-command' ? this.runCommand(live, req, stdout, stderr) : this.runAssemblyScript(live, req, stderr)
    } catch (e) {
      this.failed = true
      return this.failure(e, stderr, t0, instantiateUs)
    } finally {
      live.wasi?.end()
      live.stderr = undefined
      this.lastChainResult = undefined
      this.outbound.endCall() // outbound HTTP (issue 13 item 1)
      this.responseHeaders.endCall()
      this.deadline = Infinity
      this.calling = false
      if (this.cancelFlag) Atomics.store(this.cancelFlag, 0, 0)
    }
    const end = performance.now()
    result.timings = { instantiateUs, runUs: (end - tRun) * 1000, totalUs: (end - t0) * 1000 }
    if (this.hops) result.hops = this.hops
    return result
  }

  private runCommand(live: LiveInstance, req: InvokeRequest, stdout: OutputBuffer, stderr: OutputBuffer): InvokeResult {
    const wasi = live.wasi!
    // one WASI object serves every instance this sandbox makes: point it at this one's memory
    if (live.memory) wasi.bindMemory(live.memory)
    wasi.begin({
      args: this.plan.argv,
      env: cgiEnvironment(req, this.plan.functionName, this.plan.envVars),
      stdin: req.body,
      stdout,
      stderr,
      preopens: this.fn.preopens,
      deadline: req.deadline,
    })
    const code = runWasiStart(live.exports)
    const err = stderr.length ? stderr.toBuffer().toString() : undefined
    if (code !== 0) {
      this.failed = true
      return failedResult('KINDLING_ERR_FUNCTION_EXIT', `the function exited with status ${code}`, { stderr: err })
    }
    const cgi = parseCgiOutput(stdout.toBuffer(), req.headers['content-type'] ?? 'text/plain')
    this.responseHeaders.applyTo(cgi.headers)
    return { status: cgi.status, headers: cgi.headers, body: cgi.body, stderr: err }
  }

  private runAssemblyScript(live: LiveInstance, req: InvokeRequest, stderr: OutputBuffer): InvokeResult {
    const as = live.as!
    live.stderr = stderr
    this.traceTarget = live
    let body: Buffer
    let contentType: string
    if (as.handle) {
      const input = newString(as, req.body.toString('utf8'))
      setArgumentsLength(as, 1)
      body = Buffer.from(getString(as.memory, as.handle(input))!, 'utf8')
      contentType = 'text/plain; charset=utf-8'
    } else {
      const input = newArrayBuffer(as, req.body)
      setArgumentsLength(as, 1)
      body = getArrayBuffer(as, as.handleBytes!(input))
      contentType = 'application/octet-stream'
    }
    const err = stderr.length ? stderr.toBuffer().toString() : undefined
    const headers: ResponseHeaders = { 'content-type': contentType }
    this.responseHeaders.applyTo(headers)
    return { status: 200, headers, body, stderr: err }
  }

  private failure(e: unknown, stderr: OutputBuffer | undefined, t0: number, instantiateUs: number): InvokeResult {
    const more = { stderr: stderr?.length ? stderr.toBuffer().toString() : undefined, timings: { instantiateUs, runUs: 0, totalUs: (performance.now() - t0) * 1000 } }
    if (e instanceof InterruptedError && e.why === 'cancelled') return failedResult('KINDLING_ERR_CALL_CANCELLED', 'the client hung up: the call was stopped', more)
    if (e instanceof InterruptedError || e instanceof DeadlineError) return failedResult('KINDLING_ERR_TIMEOUT', 'the call ran past its timeout and was stopped', more)
    if (e instanceof OutputLimitError) return failedResult('KINDLING_ERR_FUNCTION_FAILED', e.message, more)
    if (isStackOverflow(e)) return failedResult('KINDLING_ERR_STACK_OVERFLOW', `the function recursed too deep and was stopped at the call stack limit (${(e as Error).message})`, more)
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    const memory = this.live?.memory
    if (memory && memory.buffer.byteLength >= this.plan.maxMemoryPages * WASM_PAGE) {
      return failedResult('KINDLING_ERR_MEMORY_LIMIT', `the function reached its memory limit of ${(this.plan.maxMemoryPages * WASM_PAGE) / 1048576} MiB (${message})`, more)
    }
    return failedResult('KINDLING_ERR_FUNCTION_TRAP', `the function trapped: ${message}`, more)
  }

  /**
   * Brings the sandbox back to a clean state after a call: restores the snapshot, or drops the
   * instance (and makes the next one when prewarm is on). Meant to run off the critical path.
   */
  cleanup(): void {
    if (!this.dirty) return
    this.dirty = false
    const live = this.live
    if (!live) return
    if (this.plan.stateMode === 'reuse' && !this.failed) return
    const snapshot = this.fn.snapshot
    if (snapshot && !this.failed && live.memory && snapshot.restore(live.memory, live.exports, this.plan.stateGlobals)) {
      this.stats.resets++
      return
    }
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
