// What prepare() works out once per function version and every sandbox of that version shares.
import type { FunctionArtifact, FunctionLogEntry, Prepared, TierContext } from '../tier.js'
import type { FifoPool } from './fifo.js'
import type { RegistrySettings } from './images/registry-client.js'
import type { ResolvedImage } from './images/store.js'
import type { Naming } from './naming.js'
import type { OciRuntime } from './runtime.js'
import type { EgressPlan } from './egress.js'
import type { WatchdogSettings } from './watchdog.js'

export interface FunctionPlan {
  artifact: FunctionArtifact
  image: ResolvedImage
  watchdog: WatchdogSettings
  /** fprocess with its program resolved to an absolute path inside the image */
  argv: string[]
  /** the container's fixed environment: image defaults, then the deployment's envVars */
  env: string[]
  cwd: string
  memoryBytes: number
  cpuCores: number
  readonlyRoot: boolean
  /** HTTP mode: the image's User (classic mode runs its shim as root) */
  user?: { uid: number; gid: number }
  /** classic mode: how the shim shell is provided */
  shim: { kind: 'host-busybox'; hostPath: string } | { kind: 'image-sh'; path: string } | undefined
  /** com.kindling.outbound grants network through the egress proxy (egress.ts); undefined: loopback only */
  egress?: EgressPlan
  /** the function's bundle template (config.json without per-sandbox parts), for inspection and benchmarks */
  templateDir: string
}

export interface ContainerPrepared extends Prepared {
  readonly plan: FunctionPlan
}

/** Overrides of the tier's knobs (tests, benchmarks); the defaults are TierContext.settings. */
export interface ContainerTierOptions {
  /** "auto": crun, falling back to runc */
  runtime?: 'auto' | 'crun' | 'runc'
  /** pause an idle HTTP-mode container after this long without calls (0 = never) */
  pauseIdleMs?: number
  pidsLimit?: number
  tmpSizeMiB?: number
  /**
   * size of each sandbox's own tmpfs: the writable layer of readOnlyRootFilesystem=false plus its
   * secrets and call I/O. Writes past it fail with ENOSPC; they count against the memory limit too
   */
  writableLayerMiB?: number
  /** how long an HTTP-mode server may take to become ready */
  readyTimeoutMs?: number
  /** an idle connection to an HTTP-mode server is closed after this long */
  keepAliveMs?: number
  /** a static busybox on the host for the classic shim (default: found on PATH) */
  busybox?: string
  /** registry pulls: overrides of the settings, or false for none (the local store only) */
  registry?: Partial<RegistrySettings> & { authFile?: string } | false
}

/** What sandboxes get from their tier. */
export interface TierServices {
  ctx: TierContext
  runtime: OciRuntime
  naming: Naming
  options: Required<Omit<ContainerTierOptions, 'busybox' | 'runtime' | 'registry'>>
  forwarderScript: string
  /** the host's static busybox (disk copy), for the mount scripts: its sh runs mkdir and ln in-process and its mount is light */
  busybox: string | undefined
  fifos: FifoPool
  log(plan: FunctionPlan, instance: string, stream: FunctionLogEntry['stream'], text: string): void
  /** has the spawner delete the container, its cgroups and folder if the gateway dies first */
  guard(containerId: string, cgroupsPath: string, dir: string): void
  unguard(containerId: string): void
  track(s: { dispose(reason: 'shutdown'): Promise<void> }): void
  untrack(s: object): void
}
