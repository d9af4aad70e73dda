// The `container` isolation tier: OCI containers run by crun (runc as a fallback), images from the
// local store, OpenFaaS watchdog behaviour (classic: a process per call; HTTP: a warm server).
//
// How the pool uses it: prepare() once per function version (checks the image and fprocess,
// writes the bundle template); spawn() for each warm sandbox (classic: a container created ahead
// and waiting at its start; HTTP: a running, ready server); invoke() per call. A classic sandbox
// serves one call and then reports alive=false, so the pool disposes it and spawns the next one in
// the background; an HTTP sandbox stays alive, pauses itself when idle and resumes on the next call.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { KindlingError, isKindlingError } from '../errors.js'
import type { FunctionArtifact, IsolationTier, Sandbox, SpawnOptions, TierCapabilities, TierContext } from '../tier.js'
import { allHierarchies } from './cgroups.js'
import { ClassicSandbox } from './classic.js'
import { FifoPool } from './fifo.js'
import { cleanupOrphans, type CleanupReport, forwarderScriptPath, knownRuntimes } from './cleanup.js'
import { HttpSandbox } from './http-mode.js'
import { DEFAULT_PATH, findStaticBusybox, type ImageStore, openImageStore } from './images/index.js'
import { dataDirMarker, Naming } from './naming.js'
import type { ContainerPrepared, ContainerTierOptions, FunctionPlan, TierServices } from './plan.js'
import { probeRuntime } from './probe.js'
import { findProgram } from './rootfs-path.js'
import { type OciRuntime, which } from './runtime.js'
import { checkSecretNames } from './secrets.js'
import { buildSpec } from './spec.js'
import { envRecord, watchdogSettings } from './watchdog.js'
import { egressEnv, egressPlan } from './egress.js'
import { OutboundPatternError } from '../wasm/host/outbound-grants.js'
import { REGISTRY_AUTH_SECRET, registryOptions, resolveUser, serverCommand } from './image-run.js'
import { Spawner } from '../spawner/spawner.js'

export type { ContainerTierOptions } from './plan.js'

const CAPABILITIES: TierCapabilities = {
  preemptible: true,
  preemption: 'the container is killed (SIGKILL to its init ends its whole PID namespace) at the deadline',
  memoryLimit: true,
  fsIsolation: true,
  netIsolation: true,
  crashIsolation: true,
  concurrencyPerSandbox: 1,
  reusable: true,
  artifactKinds: ['oci-image'],
}

type AnySandbox = ClassicSandbox | HttpSandbox

export class ContainerTier implements IsolationTier<ContainerPrepared> {
  readonly name = 'container' as const
  readonly capabilities = CAPABILITIES
  readonly images: ImageStore
  readonly naming: Naming
  readonly runtime: OciRuntime | undefined
  /** what the startup probe did (e.g. the hugetlb mount) */
  readonly probeNotes: string[]
  /** what the cleanup at start removed */
  lastCleanup: CleanupReport | undefined
  private readonly unavailable: string | null
  private readonly ready: Promise<void>
  private readonly sandboxes = new Set<AnySandbox>()
  /** the classic shim: a copy in a shared tmpfs once the tier is ready (see shareShim) */
  private shimBusybox: string | undefined
  private readonly svc: TierServices | undefined
  /** starts crun and helpers off the gateway's thread: a fork from the gateway blocks every call */
  private readonly spawner = new Spawner()
  private closed = false
  /** the knobs in force: settings from the config table, overridden by options (tests, benchmarks) */
  readonly options: TierServices['options']

  constructor(
    private readonly ctx: TierContext,
    options: ContainerTierOptions = {},
  ) {
    const s = ctx.settings
    this.options = {
      pauseIdleMs: options.pauseIdleMs ?? s.containerPauseIdleMs,
      pidsLimit: options.pidsLimit ?? s.containerPidsLimit,
      tmpSizeMiB: options.tmpSizeMiB ?? s.containerTmpMiB,
      writableLayerMiB: options.writableLayerMiB ?? s.containerWritableLayerMiB,
      readyTimeoutMs: options.readyTimeoutMs ?? s.containerReadyTimeoutMs,
      keepAliveMs: options.keepAliveMs ?? s.containerKeepAliveMs,
    }
    fs.mkdirSync(ctx.stateDir, { recursive: true })
    this.naming = new Naming(ctx.stateDir, dataDirMarker(ctx.stateDir))
    this.images = openImageStore(ctx.dataDir, registryOptions(s, options.registry))
    this.shimBusybox = installShim(ctx.stateDir, options.busybox ?? findStaticBusybox())
    const probe = probeRuntime(options.runtime ?? 'auto', path.join(ctx.stateDir, 'probe'), this.naming.idPrefix, this.naming.cgroupParent(), this.shimBusybox)
    this.runtime = probe.runtime
    this.unavailable = probe.reason
    this.probeNotes = probe.notes
    const forwarderScript = forwarderScriptPath()
    if (this.runtime) {
      this.spawner.warm() // while the gateway is still small: its own start is a fork too
      this.runtime.useLauncher(this.spawner)
      this.svc = {
        ctx,
        runtime: this.runtime,
        naming: this.naming,
        options: this.options,
        forwarderScript,
        busybox: this.shimBusybox,
        // inside the sandboxes folder: the cleanup at start removes spares of an earlier run
        fifos: new FifoPool(path.join(this.naming.sandboxesDir, '.fifos')),
        log: (plan, instance, stream, text) => ctx.log({ key: plan.artifact.key, instance, stream, text }),
        guard: (containerId, cgroupsPath, dir) => {
          const sock = this.naming.socketDir(containerId)
          const cgroups = allHierarchies().map((mp) => path.join(mp, cgroupsPath))
          this.spawner.guard(containerId, { runtime: this.runtime!.bin, containerId, cgroups, dir, alsoRemove: sock.startsWith(dir + path.sep) ? [] : [sock] })
        },
        unguard: (containerId) => this.spawner.unguard(containerId),
        track: (s) => this.sandboxes.add(s as AnySandbox),
        untrack: (s) => this.sandboxes.delete(s as AnySandbox),
      }
    }
    // containers of an earlier run of this data dir (e.g. after kill -9) go before anything starts
    this.ready = cleanupOrphans(this.naming, forwarderScript, knownRuntimes()).then(
      async (r) => {
        this.lastCleanup = r
        if (this.shimBusybox && this.runtime) this.shimBusybox = await this.shareShim(this.shimBusybox)
      },
      (e: unknown) => {
        this.lastCleanup = { containers: [], cgroupsLeft: [String(e)], forwarders: 0, mounts: [] }
      },
    )
  }

  /**
   * Copies the shim into a small tmpfs that every classic sandbox binds it from: a bind from the
   * data dir's disk would show the host path in the container's mountinfo, and a sandbox's own
   * tmpfs is another file system, so a hard link is impossible and a copy would cost ~2 MiB each.
   * Keeps the disk copy when the mount fails.
   */
  private async shareShim(diskCopy: string): Promise<string> {
    try {
      const dir = path.join(this.naming.sandboxesDir, '.shim')
      fs.mkdirSync(dir, { recursive: true })
      this.spawner.guard('.shim', { cgroups: [], dir })
      const size = fs.statSync(diskCopy).size + 1024 * 1024
      const script = 'set -e; mount -t tmpfs -o "size=$3,mode=0755,nosuid,nodev" kindling "$1"; cp "$2" "$1/busybox"; chmod 0755 "$1/busybox"'
      const r = await this.spawner.run('/bin/sh', ['-c', script, 'kindling-shim', dir, diskCopy, String(size)], { timeoutMs: 10_000 })
      return r.code === 0 ? path.join(dir, 'busybox') : diskCopy
    } catch {
      return diskCopy
    }
  }

  /** Resolves once the cleanup at start has finished. */
  whenReady(): Promise<void> {
    return this.ready
  }

  unavailableReason(): string | null {
    return this.unavailable
  }

  /** Live sandboxes (for tests and metrics). */
  get sandboxCount(): number {
    return this.sandboxes.size
  }

  async prepare(artifact: FunctionArtifact): Promise<ContainerPrepared> {
    const t0 = performance.now()
    await this.ready
    if (this.unavailable) throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', `the container tier cannot run here: ${this.unavailable}`)
    if (artifact.kind !== 'oci-image' || artifact.image.startsWith('wasm:')) {
      throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', `the container tier runs OCI images; "${artifact.image}" is a WebAssembly artifact`)
    }
    const image = await this.images.resolve(artifact.image, {
      authConfig: this.ctx.readSecret(artifact.namespace, REGISTRY_AUTH_SECRET),
      log: (text) => this.ctx.log({ key: artifact.key, instance: 'gateway', stream: 'system', text }),
    })
    if (!image) throw new KindlingError('KINDLING_ERR_IMAGE_NOT_FOUND', this.images.notFoundMessage(artifact.image))
    const env = { ...envRecord(image.config.env), ...artifact.envVars }
    // an image without a watchdog (no fprocess) is its own server, as OpenFaaS runs it: its
    // Entrypoint and Cmd listen on the port it exposes (8080 when it names none)
    const direct = artifact.envProcess || env['fprocess'] || env['function_process'] ? undefined : serverCommand(image.config)
    if (direct) {
      env['mode'] ??= 'http'
      env['upstream_url'] ??= `http://127.0.0.1:${direct.port}`
    }
    const watchdog = watchdogSettings(env, artifact.envProcess || direct?.argv.join(' '))
    if (direct) watchdog.argv = direct.argv
    const pathEnv = env['PATH'] ?? DEFAULT_PATH.slice(5)
    const cwd = image.config.workdir ?? '/'
    const user = watchdog.mode === 'http' && image.config.user ? resolveUser(image.rootfs, image.config.user, artifact.image) : undefined
    const program = findProgram(image.rootfs, watchdog.argv[0]!, pathEnv, cwd)
    if (!program) {
      throw new KindlingError(
        'KINDLING_ERR_INVALID_FIELD',
        `fprocess "${watchdog.argv.join(' ')}": "${watchdog.argv[0]}" is not an executable file in image ${artifact.image} (PATH=${pathEnv})`,
      )
    }
    let egress: FunctionPlan['egress']
    try {
      egress = egressPlan(artifact, watchdog, this.ctx.settings)
    } catch (e) {
      if (e instanceof OutboundPatternError) throw new KindlingError('KINDLING_ERR_INVALID_OUTBOUND', e.message)
      throw e
    }
    if (egress && !which('nsenter')) {
      throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', 'com.kindling.outbound on a container needs nsenter (util-linux) to reach its network namespace')
    }
    if (watchdog.mode === 'http' && watchdog.upstream.kind === 'tcp' && !which('nsenter')) {
      throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', 'a server on upstream_url needs nsenter (util-linux) to reach its network namespace')
    }
    checkSecretNames(artifact.secrets)
    for (const s of artifact.secrets) {
      if (!this.ctx.readSecret(artifact.namespace, s)) {
        throw new KindlingError('KINDLING_ERR_SECRET_NOT_FOUND', `secret "${s}" does not exist in namespace ${artifact.namespace}`)
      }
    }
    let shim: FunctionPlan['shim']
    if (watchdog.mode === 'classic') {
      if (this.shimBusybox) shim = { kind: 'host-busybox', hostPath: this.shimBusybox }
      else if (findProgram(image.rootfs, '/bin/sh', pathEnv)) shim = { kind: 'image-sh', path: '/bin/sh' }
      else {
        throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', 'classic mode needs a static busybox on the host (apt-get install busybox-static) or /bin/sh in the image')
      }
    }
    const fprocess = watchdog.argv.join(' ')
    // the proxy variables last: with a grant there is no other way out, so a deployment's own value could only break it
    const proxyEnv = egress ? egressEnv(egress) : []
    const proxyNames = new Set(proxyEnv.map((kv) => kv.slice(0, kv.indexOf('='))))
    const containerEnv = [...Object.entries({ PATH: pathEnv, HOME: '/root', ...env, fprocess }).filter(([k]) => !proxyNames.has(k)).map(([k, v]) => `${k}=${v}`), ...proxyEnv]
    const memoryBytes = artifact.memoryBytes > 0 ? artifact.memoryBytes : this.ctx.settings.memoryMiB * 1024 * 1024
    const slug = `${artifact.key.replace(/[^A-Za-z0-9_.-]/g, '_')}-${crypto.createHash('sha256').update(artifact.version).digest('hex').slice(0, 12)}`
    const plan: FunctionPlan = {
      artifact,
      image,
      watchdog,
      argv: [program, ...watchdog.argv.slice(1)],
      env: containerEnv,
      cwd,
      memoryBytes,
      cpuCores: artifact.cpuCores,
      readonlyRoot: artifact.container?.readOnlyRootFilesystem ?? true,
      ...(user && (user.uid !== 0 || user.gid !== 0) ? { user } : {}),
      shim,
      ...(egress ? { egress } : {}),
      templateDir: path.join(this.naming.functionsDir, slug),
    }
    writeTemplate(plan, this.naming, this.options)
    const prepared: ContainerPrepared = { artifact, plan, prepareUs: (performance.now() - t0) * 1000 }
    return prepared
  }

  async release(prepared: ContainerPrepared): Promise<void> {
    const plan = prepared.plan
    if (plan) fs.rmSync(plan.templateDir, { recursive: true, force: true })
  }

  async spawn(prepared: ContainerPrepared, opts: SpawnOptions): Promise<Sandbox> {
    await this.ready
    if (this.closed) throw new KindlingError('KINDLING_ERR_SHUTTING_DOWN', 'the container tier is closed')
    if (!this.svc) throw new KindlingError('KINDLING_ERR_TIER_UNAVAILABLE', `the container tier cannot run here: ${this.unavailable}`)
    const plan = prepared.plan
    const sandbox = plan.watchdog.mode === 'classic'
      ? new ClassicSandbox(opts.sandboxId, this.svc, plan, prepared.prepareUs)
      : new HttpSandbox(opts.sandboxId, this.svc, plan, prepared.prepareUs)
    this.sandboxes.add(sandbox)
    try {
      if (sandbox instanceof ClassicSandbox) await sandbox.create()
      else await sandbox.start()
    } catch (e) {
      this.sandboxes.delete(sandbox)
      await sandbox.dispose('failed').catch(() => {})
      if (isKindlingError(e)) throw e
      throw new KindlingError('KINDLING_ERR_SANDBOX_FAILED', `container for ${plan.artifact.key}: ${(e as Error).message}`, { cause: e })
    }
    return sandbox
  }

  async close(): Promise<void> {
    this.closed = true
    await this.ready
    await Promise.all([...this.sandboxes].map((s) => s.dispose('shutdown').catch(() => {})))
    this.lastCleanup = await cleanupOrphans(this.naming, forwarderScriptPath(), knownRuntimes())
    this.spawner.unguard('.shim') // unmounted by the cleanup
    this.spawner.close()
  }
}

export function createContainerTier(ctx: TierContext, options: ContainerTierOptions = {}): ContainerTier {
  return new ContainerTier(ctx, options)
}

/** Keeps one copy of the host's static busybox in the state dir, for hard links into sandboxes. */
function installShim(stateDir: string, busybox: string | undefined): string | undefined {
  if (!busybox) return undefined
  const dest = path.join(stateDir, 'shim', 'busybox')
  try {
    const a = fs.statSync(busybox)
    const b = fs.statSync(dest, { throwIfNoEntry: false })
    if (!b || b.size !== a.size || b.mtimeMs < a.mtimeMs) {
      fs.mkdirSync(path.dirname(dest), { recursive: true })
      const tmp = `${dest}.${process.pid}`
      fs.copyFileSync(busybox, tmp)
      fs.chmodSync(tmp, 0o755)
      fs.renameSync(tmp, dest)
    }
    return dest
  } catch {
    return undefined
  }
}

/**
 * The function's bundle without per-sandbox parts: fprocess run directly (no shim), no secrets or
 * sockets. `crun run --bundle <templateDir> ID` runs it as is, which is the benchmark's raw baseline.
 */
function writeTemplate(plan: FunctionPlan, naming: Naming, options: TierServices['options']): void {
  fs.mkdirSync(plan.templateDir, { recursive: true })
  const spec = buildSpec({
    rootfs: plan.image.rootfs,
    readonlyRoot: true,
    args: plan.argv,
    env: plan.env,
    cwd: plan.cwd,
    hostname: plan.artifact.name.slice(0, 63),
    cgroupsPath: `${naming.cgroupParent()}/template`,
    memoryBytes: plan.memoryBytes,
    cpuCores: plan.cpuCores,
    pidsLimit: options.pidsLimit,
    tmpfsBytes: options.tmpSizeMiB * 1024 * 1024,
    binds: [],
  })
  fs.writeFileSync(path.join(plan.templateDir, 'config.json'), JSON.stringify(spec, null, 2))
}
