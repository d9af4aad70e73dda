// The `thread` tier: each sandbox is a worker thread (its own V8 isolate and heap) inside the app
// host of the function's application. The gateway side only sends frames to the app host, like
// the wasm tier; the app host runs the workers (host-kind.ts, host-threads.ts). A call that runs
// past its deadline is stopped by the compiled-in checks, else its worker is terminated; the app
// host's main thread stays free throughout, so the application's other functions keep answering.
import { KindlingError } from '../errors.js'
import { AppHostManager, type HostExit } from '../apphost/manager.js'
import type { HostProcess } from '../apphost/host-process.js'
import { FRAME } from '../apphost/protocol.js'
import { HostSandbox } from '../apphost/wasm-tier.js'
import { siblingModule } from '../entry.js'
import type {
  DisposeReason, FunctionArtifact, IsolationTier, Prepared, Sandbox, SpawnOptions, StartupTimings, TierCapabilities, TierContext,
} from '../tier.js'
import type { WasmPlan } from '../wasm/plan.js'
import { prepareWasm } from '../wasm/prepare.js'
import type { ThreadLoadOptions } from './host-threads.js'

/** The module app hosts import to run worker-thread sandboxes (a file URL; .ts under tsx, .js built). */
export const THREAD_HOST_KIND_URL = siblingModule(import.meta.url, 'host-kind').url

export interface ThreadTierOptions {
  /** overrides settings.threadSpareWorkers (benchmarks) */
  spareWorkers?: number
}

const MiB = 1024 * 1024

export const THREAD_CAPABILITIES: TierCapabilities = {
  preemptible: true,
  preemption: 'interruption checks compiled into every loop read the clock and a cancel flag the app host raises at the deadline; a worker that still runs grace ms later is terminated and replaced',
  memoryLimit: true,
  fsIsolation: true,
  netIsolation: true,
  crashIsolation: true,
  concurrencyPerSandbox: 1,
  reusable: true,
  artifactKinds: ['wasm-module'],
}

export interface ThreadPrepared extends Prepared {
  readonly fnId: string
  /** the LOAD frame's meta besides fnId */
  readonly load: ThreadLoadOptions & { kind: 'thread'; plan: WasmPlan; modulePath: string }
}

/** A worker-thread sandbox: frames go to the app host, which runs the call on the sandbox's worker. */
class ThreadSandbox extends HostSandbox {
  constructor(id: string, readonly proc: HostProcess, readonly key: string, startup: StartupTimings, graceMs: number, private readonly onDispose: (s: ThreadSandbox) => void) {
    super(id, proc, startup, graceMs)
  }

  override async dispose(reason: DisposeReason): Promise<void> {
    this.onDispose(this)
    await super.dispose(reason)
  }
}

export class ThreadTier implements IsolationTier<ThreadPrepared> {
  readonly name = 'thread' as const
  readonly capabilities = THREAD_CAPABILITIES
  readonly hosts: AppHostManager
  private readonly ownsHosts: boolean
  private readonly sandboxes = new Map<string, ThreadSandbox>()
  private readonly spareWorkers: number

  /** a manager passed in is shared with other tiers (it must load THREAD_HOST_KIND_URL) */
  constructor(private readonly ctx: TierContext, hosts?: AppHostManager, opts: ThreadTierOptions = {}) {
    this.spareWorkers = opts.spareWorkers ?? ctx.settings.threadSpareWorkers
    this.ownsHosts = !hosts
    this.hosts = hosts ?? new AppHostManager({
      spares: ctx.settings.spareAppHosts,
      heapMiB: ctx.settings.appHostHeapMiB,
      kinds: [THREAD_HOST_KIND_URL],
      onStderr: (line) => process.stderr.write(`[app host] ${line}\n`),
    })
    if (this.ownsHosts) {
      this.hosts.on('host-exit', (e: HostExit) => {
        if (e.reason !== 'stopped') ctx.log({ key: `app:${e.app}`, instance: `host-${e.host.seq}`, stream: 'system', text: `app host of application ${e.app} ${e.reason}; it will be replaced` })
      })
    }
  }

  unavailableReason(): string | null {
    return null
  }

  async prepare(artifact: FunctionArtifact): Promise<ThreadPrepared> {
    const { plan, modulePath, prepareUs } = prepareWasm(artifact, this.ctx)
    const heapMiB = Math.max(this.ctx.settings.threadMinHeapMiB, Math.ceil(artifact.memoryBytes / MiB))
    const fnId = `thread:${artifact.key}@${artifact.version}`
    this.hosts.join(artifact.app, fnId)
    const load = { kind: 'thread' as const, plan, modulePath, heapMiB, graceMs: this.ctx.settings.timeoutGraceMs, spareWorkers: this.spareWorkers }
    return { artifact, prepareUs, fnId, load }
  }

  async release(p: ThreadPrepared): Promise<void> {
    await this.hosts.leave(p.artifact.app, p.fnId)
  }

  async spawn(p: ThreadPrepared, opts: SpawnOptions): Promise<Sandbox> {
    const t0 = performance.now()
    const host = await this.hosts.hostWith(p.artifact.app, p.fnId, p.load)
    const reply = await host.request(FRAME.SPAWN, { fnId: p.fnId, sb: opts.sandboxId })
    const { instantiateUs } = reply.meta as { instantiateUs: number }
    const startup: StartupTimings = { prepareUs: p.prepareUs, spawnUs: (performance.now() - t0) * 1000, instantiateUs }
    // the app host terminates a stuck worker at deadline + grace; the gateway kills the whole app
    // host only if even that answer does not come
    const gatewayGraceMs = 2 * this.ctx.settings.timeoutGraceMs + 250
    const sb = new ThreadSandbox(opts.sandboxId, host, p.artifact.key, startup, gatewayGraceMs, (s) => this.sandboxes.delete(s.id))
    this.sandboxes.set(sb.id, sb)
    return sb
  }

  /** Live sandbox ids of a function (name.namespace). */
  sandboxIdsOf(key: string): string[] {
    return [...this.sandboxes.values()].filter((s) => s.key === key && s.alive).map((s) => s.id)
  }

  /** Terminates the worker thread of a sandbox, as a crash would; the app host replaces it. */
  async killWorker(sandboxId: string): Promise<void> {
    const sb = this.sandboxes.get(sandboxId)
    if (!sb) throw new KindlingError('KINDLING_ERR_SANDBOX_FAILED', `no thread sandbox ${sandboxId}`)
    await sb.proc.request(FRAME.KILL, { sb: sandboxId })
  }

  async close(): Promise<void> {
    this.sandboxes.clear()
    if (this.ownsHosts) await this.hosts.close()
  }
}
