// The `process` tier: one OS process per sandbox, serving exactly one function (SAND's function
// level), started and supervised by the gateway. The process is an app host that loads only that
// function, so calls use the same frames and the same wasm runner as the wasm tier; what changes
// is the boundary: a crash, an out-of-memory or a runaway loop affects that one sandbox only.
// New sandboxes come from spare processes started ahead (spares.ts); each process has a V8 heap
// limit and, where the machine allows, a memory cgroup of its own.
import { asKindlingError, KindlingError } from '../errors.js'
import { FRAME, type InvokeMeta, type ResultMeta } from '../apphost/protocol.js'
import type {
  CancelSignal, DisposeReason, FunctionArtifact, InvokeRequest, InvokeResult, IsolationTier, Prepared, Sandbox, SpawnOptions,
  StartupTimings, TierCapabilities, TierContext, TierSettings,
} from '../tier.js'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '../entry.js'
import type { PlanWithModule } from '../wasm/plan.js'
import { type PreparedWasm, prepareWasm } from '../wasm/prepare.js'
import { MemoryCgroups } from './cgroup.js'
import { mib, type ProcessSizing, ProcessSpares, type SandboxProcess } from './spares.js'

export interface ProcessTierOptions {
  /** overrides settings.processSpareProcesses (benchmarks) */
  spareProcesses?: number
  /** tests: use this instead of probing the machine's cgroups */
  cgroups?: MemoryCgroups
  /** tests: the cgroup limit for a memory limit, instead of wasm memory + heap + baseline */
  cgroupBytes?: (memoryMiB: number) => number
}

export const PROCESS_CAPABILITIES: TierCapabilities = {
  preemptible: true,
  preemption: 'interruption checks compiled into every loop; a process that still does not answer by deadline + grace is killed (SIGKILL) and replaced',
  memoryLimit: true,
  fsIsolation: true,
  netIsolation: true,
  crashIsolation: true,
  concurrencyPerSandbox: 1,
  reusable: true,
  artifactKinds: ['wasm-module'],
}

export interface ProcessPrepared extends Prepared {
  readonly fnId: string
  readonly wasm: PreparedWasm
  readonly memoryMiB: number
}

export class ProcessTier implements IsolationTier<ProcessPrepared> {
  readonly name = 'process' as const
  readonly capabilities = PROCESS_CAPABILITIES
  readonly cgroups: MemoryCgroups
  readonly spares: ProcessSpares
  private readonly sandboxes = new Set<ProcessSandbox>()
  private closed = false

  constructor(private readonly ctx: TierContext, opts: ProcessTierOptions = {}) {
    this.cgroups = opts.cgroups ?? new MemoryCgroups()
    if (this.cgroups.reason) process.stderr.write(`kindling: process tier runs without memory cgroups: ${this.cgroups.reason}\n`)
    const sized = (m: number) => sizing(m, ctx.settings)
    const size = opts.cgroupBytes ? (m: number) => ({ ...sized(m), cgroupBytes: opts.cgroupBytes!(m) }) : sized
    this.spares = new ProcessSpares(opts.spareProcesses ?? ctx.settings.processSpareProcesses, size, this.cgroups, warmupFunction(ctx))
  }

  unavailableReason(): string | null {
    return null
  }

  async prepare(artifact: FunctionArtifact): Promise<ProcessPrepared> {
    // compiled by each sandbox process at LOAD, once per process
    const wasm = prepareWasm(artifact, this.ctx)
    const memoryMiB = mib(artifact.memoryBytes)
    this.spares.addUser(memoryMiB)
    return { artifact, prepareUs: wasm.prepareUs, fnId: `${artifact.key}@${artifact.version}`, wasm, memoryMiB }
  }

  async release(prepared: ProcessPrepared): Promise<void> {
    this.spares.removeUser(prepared.memoryMiB)
  }

  async spawn(p: ProcessPrepared, opts: SpawnOptions): Promise<Sandbox> {
    const t0 = performance.now()
    const { proc, instantiateUs } = await this.startFor(p, opts.sandboxId)
    if (this.closed) {
      await proc.host.stop()
      throw new KindlingError('KINDLING_ERR_SHUTTING_DOWN', 'the process tier closed while the sandbox started')
    }
    const startup: StartupTimings = { prepareUs: p.prepareUs, spawnUs: (performance.now() - t0) * 1000, instantiateUs }
    const sb = new ProcessSandbox(opts.sandboxId, p.artifact.key, proc, startup, this.ctx, p.memoryMiB, {
      replace: () => this.startFor(p, opts.sandboxId).then((r) => r.proc),
      gone: (s) => this.sandboxes.delete(s),
    })
    this.sandboxes.add(sb)
    return sb
  }

  /** A process with the function loaded and one instance made: a spare when there is one. */
  private async startFor(p: ProcessPrepared, sandboxId: string): Promise<{ proc: SandboxProcess; instantiateUs: number }> {
    if (this.closed) throw new KindlingError('KINDLING_ERR_SHUTTING_DOWN', 'the process tier is closed')
    const proc = this.spares.take(p.memoryMiB)
    try {
      // a spare still warming up is finished first (its frames would interleave with ours)
      await proc.host.ready
      await proc.warmed
      await proc.host.request(FRAME.LOAD, { fnId: p.fnId, kind: 'wasm', plan: p.wasm.plan, modulePath: p.wasm.modulePath, noChain: true })
      const reply = await proc.host.request(FRAME.SPAWN, { fnId: p.fnId, sb: sandboxId })
      // the next spare starts now, not while this one was loading (a fork blocks the gateway's thread)
      this.spares.refill()
      return { proc, instantiateUs: (reply.meta as { instantiateUs: number }).instantiateUs }
    } catch (e) {
      void proc.host.stop()
      this.spares.refill()
      const k = asKindlingError(e)
      throw k.code === 'KINDLING_ERR_INTERNAL' ? new KindlingError('KINDLING_ERR_SANDBOX_FAILED', `could not start a sandbox process: ${k.message}`) : k
    }
  }

  /** PIDs of the live sandbox processes of a function (name.namespace). */
  pidsOf(key: string): number[] {
    return [...this.sandboxes].filter((s) => s.key === key && s.alive).flatMap((s) => (s.pid ? [s.pid] : []))
  }

  /** PID of the process serving a sandbox now. */
  pidOf(sandboxId: string): number | undefined {
    for (const s of this.sandboxes) if (s.id === sandboxId) return s.pid
    return undefined
  }

  get sandboxCount(): number {
    return this.sandboxes.size
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all([...this.sandboxes].map((s) => s.dispose('shutdown')))
    await this.spares.close()
  }
}

/** kindling's noop example, prepared like any function, for spares to run once; none if missing. */
function warmupFunction(ctx: TierContext): PlanWithModule | undefined {
  const file = path.join(REPO_ROOT, 'functions', 'dist', 'noop.wasm')
  try {
    const digest = createHash('sha256').update(fs.readFileSync(file)).digest('hex')
    const { plan, modulePath } = prepareWasm({
      key: '__kindling_warmup', name: 'warmup', namespace: '', version: '1', app: '', kind: 'wasm-module', image: '',
      envVars: {}, labels: {}, annotations: {}, secrets: [], memoryBytes: 16 * 1024 * 1024, cpuCores: 0, timeoutMs: 1000, stateMode: 'fresh',
      wasm: { modulePath: file, digest, format: 'wasi-command', resetMode: 'snapshot', prewarm: false },
    }, ctx)
    return { plan, modulePath }
  } catch {
    return undefined
  }
}

function sizing(memoryMiB: number, s: TierSettings): ProcessSizing {
  const heapMiB = Math.max(s.processMinHeapMiB, memoryMiB)
  return { heapMiB, cgroupBytes: (memoryMiB + heapMiB + s.processBaselineMiB) * 1024 * 1024 }
}

interface SandboxHooks {
  /** a new process for this sandbox, with its function loaded */
  replace(): Promise<SandboxProcess>
  gone(s: ProcessSandbox): void
}

/**
 * One sandbox: one process at a time. A process that dies (a crash, a kill, the timeout backstop)
 * is replaced at once from the spares, so the sandbox stays usable and its next call runs in a
 * new process; a sandbox whose replacement cannot start reports itself dead.
 */
class ProcessSandbox implements Sandbox {
  private disposed = false
  private failed = false
  private proc!: SandboxProcess
  /** set while a dead process is being replaced */
  private replacing: Promise<void> | undefined
  /** processes that died under this sandbox */
  deaths = 0

  constructor(
    readonly id: string,
    readonly key: string,
    proc: SandboxProcess,
    readonly startup: StartupTimings,
    private readonly ctx: TierContext,
    private readonly memoryMiB: number,
    private readonly hooks: SandboxHooks,
  ) {
    this.adopt(proc)
  }

  private adopt(proc: SandboxProcess): void {
    this.proc = proc
    proc.onStderr = (text) => this.ctx.log({ key: this.key, instance: this.id, stream: 'system', text })
    proc.host.once('exit', (reason: string) => {
      if (this.disposed || this.proc !== proc) return
      this.deaths++
      this.ctx.log({ key: this.key, instance: this.id, stream: 'system', text: `sandbox process ${proc.host.pid} ${reason}; replacing it` })
      this.replacing = this.hooks.replace().then(
        (next) => {
          this.replacing = undefined
          if (this.disposed) void next.host.stop()
          else this.adopt(next)
        },
        (e: unknown) => {
          this.replacing = undefined
          this.failed = true
          this.hooks.gone(this)
          this.ctx.log({ key: this.key, instance: this.id, stream: 'system', text: `could not replace the sandbox process: ${(e as Error).message}` })
        },
      )
    })
  }

  get pid(): number | undefined {
    return this.proc.host.alive ? this.proc.host.pid : undefined
  }

  get alive(): boolean {
    return !this.disposed && !this.failed
  }

  async invoke(req: InvokeRequest, signal: CancelSignal): Promise<InvokeResult> {
    if (this.replacing) await this.replacing
    if (!this.alive) throw new KindlingError('KINDLING_ERR_HOST_DIED', 'the sandbox process is gone and could not be replaced')
    if (signal.aborted) throw new KindlingError('KINDLING_ERR_CALL_CANCELLED', 'the client hung up before the call ran')
    const proc = this.proc
    const meta: InvokeMeta = { sb: this.id, callId: req.callId, method: req.method, path: req.path, query: req.query, headers: req.headers, deadline: req.deadline }
    try {
      const f = await proc.host.request(FRAME.INVOKE, meta, req.body, { at: req.deadline, graceMs: this.ctx.settings.timeoutGraceMs }, signal)
      const m = f.meta as ResultMeta
      return { status: m.status, headers: m.headers, body: f.payload, stderr: m.stderr, errorCode: m.errorCode, timings: m.timings, cpuUs: m.cpuUs, hops: m.hops }
    } catch (e) {
      throw this.explain(e, proc)
    }
  }

  /** Says why the process died when it was memory: the cgroup's OOM killer or V8's heap limit. */
  private explain(e: unknown, proc: SandboxProcess): unknown {
    if (!(e instanceof KindlingError) || e.code !== 'KINDLING_ERR_HOST_DIED') return e
    if (proc.oomKilled) {
      return new KindlingError('KINDLING_ERR_MEMORY_LIMIT', `the sandbox process went over its memory cgroup limit (limits.memory ${this.memoryMiB} MiB plus the heap and Node's baseline) and was killed`)
    }
    if (proc.stderrTail.some((l) => /heap limit|heap out of memory/i.test(l))) {
      return new KindlingError('KINDLING_ERR_MEMORY_LIMIT', 'the sandbox process reached its V8 heap limit and died')
    }
    return new KindlingError('KINDLING_ERR_HOST_DIED', `the sandbox process running this call ${proc.host.exitReason ?? 'died'}; it has been replaced`)
  }

  async dispose(_reason: DisposeReason): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    this.hooks.gone(this)
    await this.replacing?.catch(() => {})
    await this.proc.host.stop()
  }
}
