// What classic and HTTP-mode sandboxes share: the per-sandbox folder (bundle, secrets, I/O folder,
// overlay), the config.json, and an idempotent teardown that leaves nothing behind.
import fs from 'node:fs'
import path from 'node:path'
import type { DisposeReason, StartupTimings } from '../tier.js'
import { memoryEvents } from './cgroups.js'
import { mountSandboxFs, unmountSandboxFs } from './overlay.js'
import type { FunctionPlan, TierServices } from './plan.js'
import { SECRETS_IN_CONTAINER, writeSecrets } from './secrets.js'
import { type BindMount, buildSpec } from './spec.js'
import { egressSocketPath, SandboxEgress } from './egress.js'

export abstract class ContainerSandboxBase {
  readonly containerId: string
  readonly dir: string
  readonly cgroupsPath: string
  startup: StartupTimings
  /** the sandbox's tmpfs (io/, secrets/, sock/, the writable layer); set once mounted */
  protected fsDir = ''
  private rootfs = ''
  private mounted = false
  protected created = false
  protected disposed = false
  private teardown: Promise<void> | undefined
  /** the egress proxy and forwarder of a function com.kindling.outbound grants network */
  protected egress: SandboxEgress | undefined

  constructor(
    readonly id: string,
    protected readonly svc: TierServices,
    protected readonly plan: FunctionPlan,
    prepareUs: number,
  ) {
    this.containerId = svc.naming.containerId()
    this.dir = svc.naming.sandboxDir(this.containerId)
    this.cgroupsPath = svc.naming.cgroupsPath(this.containerId)
    this.startup = { prepareUs, spawnUs: 0, instantiateUs: 0 }
  }

  protected log(stream: 'stdout' | 'stderr' | 'system', text: string): void {
    this.svc.log(this.plan, this.id, stream, text)
  }

  /** Makes the sandbox folder and mounts its file system (overlay.ts); first step of every sandbox. */
  protected async makeDir(): Promise<void> {
    // from here on, a gateway killed -9 leaves this to its spawner to undo
    this.svc.guard(this.containerId, this.cgroupsPath, this.dir)
    fs.mkdirSync(this.dir, { recursive: true })
    this.mounted = true
    const p = await mountSandboxFs(this.svc.runtime.launcherOf(), this.dir, this.plan.image.rootfs, this.svc.options.writableLayerMiB * 1024 * 1024, this.svc.busybox)
    this.fsDir = p.fsDir
    this.rootfs = p.rootfs
  }

  /** Writes config.json; returns the bundle folder. */
  protected async writeBundle(args: string[], env: string[], binds: BindMount[]): Promise<string> {
    const a = this.plan.artifact
    if (a.secrets.length) {
      const secretsDir = path.join(this.fsDir, 'secrets')
      writeSecrets(secretsDir, a.namespace, a.secrets, (ns, n) => this.svc.ctx.readSecret(ns, n))
      binds.push({ destination: SECRETS_IN_CONTAINER, source: secretsDir, readonly: true })
    }
    const spec = buildSpec({
      rootfs: this.rootfs,
      readonlyRoot: this.plan.readonlyRoot,
      args,
      env,
      cwd: this.plan.cwd,
      hostname: this.plan.artifact.name.slice(0, 63),
      cgroupsPath: this.cgroupsPath,
      memoryBytes: this.plan.memoryBytes,
      cpuCores: this.plan.cpuCores,
      pidsLimit: this.svc.options.pidsLimit,
      tmpfsBytes: this.svc.options.tmpSizeMiB * 1024 * 1024,
      binds,
      ...(this.plan.user ? { user: this.plan.user } : {}),
    })
    fs.writeFileSync(path.join(this.dir, 'config.json'), JSON.stringify(spec))
    return this.dir
  }

  /** With a grant: the egress proxy and its forwarder in the namespace of the container's init `pid`. */
  protected async startEgress(pid: number, timeoutMs: number): Promise<void> {
    if (!this.plan.egress) return
    const sock = egressSocketPath(this.dir, this.svc.naming.shortSocketRoot, this.containerId.slice(this.svc.naming.idPrefix.length))
    fs.mkdirSync(path.dirname(sock), { recursive: true })
    this.egress = new SandboxEgress(this.svc, this.plan.egress, sock, (text) => this.log('system', text))
    await this.egress.start(pid, timeoutMs)
  }

  /** True when the kernel OOM-killed something in this container's memory cgroup. */
  protected oomKilled(): boolean {
    return memoryEvents(this.cgroupsPath).oomKills > 0
  }

  /** Mode-specific release of fds, timers and helper processes. */
  protected abstract releaseResources(): void

  /** Deletes the container (killing it if needed), unmounts, removes the folder. Safe to call twice. */
  protected destroy(): Promise<void> {
    this.teardown ??= (async () => {
      // first: nothing may go out once the sandbox is being reset or destroyed
      this.egress?.close()
      this.releaseResources()
      if (this.created) {
        const r = await this.svc.runtime.delete(this.containerId)
        if (r.code !== 0 && !/does not exist|not found/i.test(r.stderr)) {
          this.log('system', `could not delete container ${this.containerId}: ${r.stderr.trim()}`)
        }
      }
      if (this.mounted) await unmountSandboxFs(this.svc.runtime.launcherOf(), this.dir, this.svc.busybox)
      fs.rmSync(this.dir, { recursive: true, force: true })
      this.svc.unguard(this.containerId)
      this.svc.untrack(this)
    })()
    return this.teardown
  }

  async dispose(_reason: DisposeReason): Promise<void> {
    this.disposed = true
    await this.destroy()
  }
}
