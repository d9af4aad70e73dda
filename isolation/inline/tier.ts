// The `inline` tier: the WebAssembly instance runs inside the gateway process itself. No OS
// boundary and no IPC: the fastest tier and the weakest. Runaway loops and recursion are stopped by the
// compiled-in interruption checks; a crash of V8 itself would take the gateway with it.
import { KindlingError } from '../errors.js'
import type {
  CancelSignal, DisposeReason, FunctionArtifact, InvokeRequest, InvokeResult, IsolationTier, Prepared, Sandbox, SpawnOptions,
  StartupTimings, TierCapabilities, TierContext,
} from '../tier.js'
import fs from 'node:fs'
import { compileModule } from '../wasm/compile.js'
import { prepareWasm } from '../wasm/prepare.js'
import { ChainDirectory } from '../wasm/chain.js'
import { OUTBOUND_ANNOTATION, parseOutbound } from '../wasm/host/outbound-grants.js'
import { WasmFunction } from '../wasm/runner.js'

/** What InlineSandbox drives: a core-module sandbox or a component sandbox. */
interface SandboxCore {
  ensureInstance(): number
  run(req: InvokeRequest): InvokeResult
  cleanup(): void
  dispose(): void
}

export interface InlinePrepared extends Prepared {
  readonly fn: { createSandbox(): SandboxCore }
}

export const INLINE_CAPABILITIES: TierCapabilities = {
  preemptible: true,
  preemption: 'interruption checks compiled into every loop and function entry (the gateway thread cannot be killed)',
  memoryLimit: true,
  fsIsolation: true,
  netIsolation: true,
  crashIsolation: false,
  concurrencyPerSandbox: 1,
  reusable: true,
  artifactKinds: ['wasm-module', 'wasm-component'],
}

export class InlineTier implements IsolationTier<InlinePrepared> {
  readonly name = 'inline' as const
  readonly capabilities = INLINE_CAPABILITIES

  /** inline functions of one application call each other (kindling.call) through its directory */
  private readonly directories = new Map<string, ChainDirectory>()

  constructor(private readonly ctx: TierContext) {}

  unavailableReason(): string | null {
    return null
  }

  async prepare(artifact: FunctionArtifact): Promise<InlinePrepared> {
    if (parseOutbound(artifact.annotations[OUTBOUND_ANNOTATION]).length) {
      // an outbound request blocks the thread that runs the call, and here that thread is the
      // gateway's: every other call would wait for a granted function's slowest URL (asyncify
      // would not block it: bench/README.md "outbound: blocking host call vs asyncify")
      throw new KindlingError(
        'KINDLING_ERR_TIER_UNAVAILABLE',
        "tier inline runs functions on the gateway's thread, where an outbound request would stall every other call; deploy a function granted com.kindling.outbound on the wasm, thread or process tier",
      )
    }
    if (artifact.kind === 'wasm-component') {
      // transpiled with jco at deploy; loaded only when a component is deployed
      const [{ prepareComponent }, { ComponentFunction }] = await Promise.all([import('../component/prepare.js'), import('../component/runner.js')])
      const c = await prepareComponent(artifact, this.ctx)
      if (c.notInterruptibleBecause) {
        // nothing else could stop it here: the gateway thread cannot be killed
        throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', `tier inline cannot stop this component at its deadline (no interruption checks in ${c.notInterruptibleBecause}); deploy it on the wasm tier`)
      }
      return { artifact, prepareUs: c.prepareUs, fn: await ComponentFunction.load(c.plan) }
    }
    const wasm = prepareWasm(artifact, this.ctx)
    // the gateway runs inline functions: this is the one compile of the instrumented module
    const fn = new WasmFunction(compileModule(fs.readFileSync(wasm.modulePath)), wasm.plan)
    let directory = this.directories.get(artifact.app)
    if (!directory) this.directories.set(artifact.app, (directory = new ChainDirectory()))
    directory.register(fn)
    return { artifact, prepareUs: wasm.prepareUs, fn }
  }

  async release(prepared: InlinePrepared): Promise<void> {
    const fn = prepared.fn
    if (fn instanceof WasmFunction) this.directories.get(prepared.artifact.app)?.unregister(fn)
  }

  async spawn(p: InlinePrepared, opts: SpawnOptions): Promise<Sandbox> {
    const t0 = performance.now()
    const core = p.fn.createSandbox()
    const instantiateUs = core.ensureInstance()
    return new InlineSandbox(opts.sandboxId, core, { prepareUs: p.prepareUs, spawnUs: (performance.now() - t0) * 1000, instantiateUs })
  }

  async close(): Promise<void> {}
}

class InlineSandbox implements Sandbox {
  private disposed = false
  private cleanupPending = false

  constructor(
    readonly id: string,
    private readonly core: SandboxCore,
    readonly startup: StartupTimings,
  ) {}

  get alive(): boolean {
    return !this.disposed
  }

  async invoke(req: InvokeRequest, signal: CancelSignal): Promise<InvokeResult> {
    if (this.disposed) throw new KindlingError('KINDLING_ERR_SANDBOX_FAILED', 'the sandbox was disposed')
    if (signal.aborted) throw new KindlingError('KINDLING_ERR_CALL_CANCELLED', 'the client hung up before the call ran')
    // usage (issue 13 item 5): the process's CPU around the call. Node 20 has no per-thread clock,
    // so this counts the gateway's other threads too (GC, libuv's pool, the outbound helper): an
    // upper bound, within a few µs of the call's own while they are idle (bench/ops/inline-cpu.ts)
    const cpu0 = process.cpuUsage()
    const result = this.core.run(req)
    const cpu = process.cpuUsage(cpu0)
    result.cpuUs = cpu.user + cpu.system
    // restore the snapshot after the response has gone out, not on this call's critical path
    if (!this.cleanupPending) {
      this.cleanupPending = true
      setImmediate(() => {
        this.cleanupPending = false
        if (!this.disposed) this.core.cleanup()
      })
    }
    return result
  }

  async dispose(_reason: DisposeReason): Promise<void> {
    this.disposed = true
    this.core.dispose()
  }
}
