// The `wasm` tier (the default): each application runs in its own app host process; each sandbox
// is a WebAssembly instance inside it, fresh (or reset to its initial snapshot) for every call.
// A crash of one application's host fails only that application's in-flight calls.
import { KindlingError } from '../errors.js'
import type {
  CancelSignal, DisposeReason, FunctionArtifact, InvokeRequest, InvokeResult, IsolationTier, Prepared, Sandbox, SpawnOptions,
  StartupTimings, TierCapabilities, TierContext,
} from '../tier.js'
import { prepareWasm } from '../wasm/prepare.js'
import type { HostProcess } from './host-process.js'
import { AppHostManager, type HostExit } from './manager.js'
import { FRAME, type InvokeMeta, type ResultMeta } from './protocol.js'

export interface WasmPrepared extends Prepared {
  readonly fnId: string
  /** the LOAD frame's meta besides fnId: a core module (kind wasm) or a component (kind component) */
  readonly load: { kind: string; [key: string]: unknown }
}

export const WASM_TIER_CAPABILITIES: TierCapabilities = {
  preemptible: true,
  preemption: 'interruption checks compiled into every loop (of each core module of a component too); an app host that still does not answer by deadline + grace is killed and replaced',
  memoryLimit: true,
  fsIsolation: true,
  netIsolation: true,
  crashIsolation: true,
  concurrencyPerSandbox: 1,
  reusable: true,
  artifactKinds: ['wasm-module', 'wasm-component'],
}

export class WasmTier implements IsolationTier<WasmPrepared> {
  readonly name = 'wasm' as const
  readonly capabilities = WASM_TIER_CAPABILITIES
  readonly hosts: AppHostManager

  /** a manager passed in is shared with other tiers and closed by its owner */
  private readonly ownsHosts: boolean

  constructor(private readonly ctx: TierContext, hosts?: AppHostManager) {
    this.ownsHosts = !hosts
    this.hosts = hosts ?? new AppHostManager({
      spares: ctx.settings.spareAppHosts,
      heapMiB: ctx.settings.appHostHeapMiB,
      kinds: [],
      onStderr: (line) => process.stderr.write(`[app host] ${line}\n`),
    })
    this.hosts.on('host-exit', (e: HostExit) => {
      if (e.reason !== 'stopped') {
        ctx.log({ key: `app:${e.app}`, instance: `host-${e.host.seq}`, stream: 'system', text: `app host of application ${e.app} ${e.reason}; it will be replaced` })
      }
    })
  }

  unavailableReason(): string | null {
    return null
  }

  async prepare(artifact: FunctionArtifact): Promise<WasmPrepared> {
    const fnId = `${artifact.key}@${artifact.version}`
    if (artifact.kind === 'wasm-component') {
      // transpiled with jco at deploy; loaded only when a component is deployed
      const { prepareComponent } = await import('../component/prepare.js')
      const c = await prepareComponent(artifact, this.ctx)
      if (c.notInterruptibleBecause) this.ctx.log({ key: artifact.key, instance: 'gateway', stream: 'system', text: `no interruption checks in ${c.notInterruptibleBecause}; a runaway call is stopped by killing the app host` })
      this.hosts.join(artifact.app, fnId)
      return { artifact, prepareUs: c.prepareUs, fnId, load: { kind: 'component', plan: c.plan } }
    }
    // nothing is compiled here: the app host compiles the instrumented module once at LOAD
    const wasm = prepareWasm(artifact, this.ctx)
    this.hosts.join(artifact.app, fnId)
    return { artifact, prepareUs: wasm.prepareUs, fnId, load: { kind: 'wasm', plan: wasm.plan, modulePath: wasm.modulePath } }
  }

  async release(p: WasmPrepared): Promise<void> {
    await this.hosts.leave(p.artifact.app, p.fnId)
  }

  async spawn(p: WasmPrepared, opts: SpawnOptions): Promise<Sandbox> {
    const t0 = performance.now()
    const host = await this.hosts.hostWith(p.artifact.app, p.fnId, p.load)
    const reply = await host.request(FRAME.SPAWN, { fnId: p.fnId, sb: opts.sandboxId })
    const { instantiateUs } = reply.meta as { instantiateUs: number }
    const startup: StartupTimings = { prepareUs: p.prepareUs, spawnUs: (performance.now() - t0) * 1000, instantiateUs }
    return new HostSandbox(opts.sandboxId, host, startup, this.ctx.settings.timeoutGraceMs)
  }

  async close(): Promise<void> {
    if (this.ownsHosts) await this.hosts.close()
  }
}

/** A sandbox living in an app host: invoke sends one frame and waits for the result frame. */
export class HostSandbox implements Sandbox {
  private disposed = false

  constructor(
    readonly id: string,
    private readonly host: HostProcess,
    readonly startup: StartupTimings,
    private readonly graceMs: number,
  ) {}

  get alive(): boolean {
    return !this.disposed && this.host.alive
  }

  async invoke(req: InvokeRequest, signal: CancelSignal): Promise<InvokeResult> {
    if (!this.alive) throw new KindlingError('KINDLING_ERR_HOST_DIED', 'the sandbox is gone')
    if (signal.aborted) throw new KindlingError('KINDLING_ERR_CALL_CANCELLED', 'the client hung up before the call ran')
    const meta: InvokeMeta = { sb: this.id, callId: req.callId, method: req.method, path: req.path, query: req.query, headers: req.headers, deadline: req.deadline }
    const f = await this.host.request(FRAME.INVOKE, meta, req.body, { at: req.deadline, graceMs: this.graceMs }, signal)
    const m = f.meta as ResultMeta
    return { status: m.status, headers: m.headers, body: f.payload, stderr: m.stderr, errorCode: m.errorCode, timings: m.timings, cpuUs: m.cpuUs, hops: m.hops }
  }

  async dispose(_reason: DisposeReason): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    if (this.host.alive) await this.host.request(FRAME.DISPOSE, { sb: this.id }).catch(() => {})
  }
}
