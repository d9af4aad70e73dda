// The one interface every isolation tier implements (DESIGN.md, "One interface for every tier").
// The pool talks to tiers only through these types; a tier never imports the pool or the gateway.
import type { ErrorCode } from './errors.js'

export type TierName = 'inline' | 'wasm' | 'thread' | 'process' | 'container'
export const TIER_NAMES: readonly TierName[] = ['inline', 'wasm', 'thread', 'process', 'container']

/** What a tier can and cannot do, declared up front instead of failing at run time. */
export interface TierCapabilities {
  /** a runaway call can be stopped at its deadline */
  preemptible: boolean
  /** how a runaway call is stopped, in words (for /system/info and the README) */
  preemption: string
  /** limits.memory is enforced */
  memoryLimit: boolean
  /** the function sees no host filesystem beyond what kindling grants */
  fsIsolation: boolean
  /** the function has no network beyond what kindling grants */
  netIsolation: boolean
  /** a crash of the function cannot take down the gateway */
  crashIsolation: boolean
  /** how many calls one sandbox runs at once */
  concurrencyPerSandbox: number
  /** a sandbox can be reset and reused for the next call */
  reusable: boolean
  /** the artifact kinds this tier runs */
  artifactKinds: readonly ArtifactKind[]
}

export type ArtifactKind = 'wasm-module' | 'wasm-component' | 'oci-image'

/** How a WebAssembly module is driven. */
export type WasmFormat = 'wasi-command' | 'assemblyscript' | 'component'
export const WASM_FORMATS: readonly WasmFormat[] = ['wasi-command', 'assemblyscript', 'component']

/**
 * How much state survives between calls.
 * fresh: every call starts from the function's initial state (a snapshot restore or a new instance);
 * reuse: a warm sandbox keeps its state (caches, as of-watchdog's HTTP mode does).
 */
export type StateMode = 'fresh' | 'reuse'

/** How fresh state is made for the next call. */
export type ResetMode = 'snapshot' | 'reinstantiate'

/** Everything a tier needs to prepare one version of one function. */
export interface FunctionArtifact {
  /** name.namespace: unique per function */
  key: string
  name: string
  namespace: string
  /** changes whenever the deployment changes; part of cache keys */
  version: string
  /** the application the function belongs to (com.kindling.app) */
  app: string
  kind: ArtifactKind
  /** the image string the user deployed, verbatim */
  image: string
  /** fprocess: argv of a WASI command, the watchdog's process of a container */
  envProcess?: string
  envVars: Record<string, string>
  labels: Record<string, string>
  annotations: Record<string, string>
  secrets: string[]
  /** memory limit in bytes */
  memoryBytes: number
  /** cpu limit in cores (0 = none) */
  cpuCores: number
  timeoutMs: number
  stateMode: StateMode
  /** set for kinds wasm-module and wasm-component */
  wasm?: WasmArtifact
  /** set for kind oci-image */
  container?: ContainerArtifact
}

/** The WebAssembly part of an artifact: the uploaded module or component. */
export interface WasmArtifact {
  /** absolute path of the module bytes as uploaded */
  modulePath: string
  /** sha256 hex of the module bytes */
  digest: string
  /** what the upload classified the bytes as; left out, prepare finds it (one more compile) */
  format?: WasmFormat
  resetMode: ResetMode
  /** a sandbox keeps the next clean instance ready (off the critical path) */
  prewarm: boolean
}

/** The container part of an artifact (the image reference is FunctionArtifact.image). */
export interface ContainerArtifact {
  readOnlyRootFilesystem: boolean
}

/** The result of prepare: opaque to the pool; each tier extends it with what its spawn needs. */
export interface Prepared {
  readonly artifact: FunctionArtifact
  /** microseconds spent in prepare (compile, bundle creation) */
  readonly prepareUs: number
}

export interface SpawnOptions {
  /** identifies the sandbox in logs and metrics */
  sandboxId: string
}

/** Phases of a cold start, in microseconds, as the tier measured them. */
export interface StartupTimings {
  prepareUs: number
  spawnUs: number
  instantiateUs: number
}

/** A call as its caller (the gateway, the async worker) builds it: the deadline is not its to set. */
export interface CallRequest {
  callId: string
  method: string
  /** the path after /function/<name>, always starting with "/" */
  path: string
  /** the raw query string without "?" */
  query: string
  /** lower-case header names */
  headers: Record<string, string>
  body: Buffer
  /** tracing (issue 13): set when the call is traced; the pool notes which sandbox ran it */
  span?: CallSpanNotes
}

/** One kindling.call (or outbound HTTP request) of a traced call: a span of the call's trace. */
export interface ChainHop {
  /** the callee, name.namespace; the method of an outbound request */
  name: string
  /** an outbound HTTP request (issue 13 item 6): a client span; status is negative when it failed */
  client?: { host: string; port: number; error?: string }
  spanId: string
  parentSpanId: string
  /** Date.now() based, in ms */
  startMs: number
  durUs: number
  status: number
}

/** What the pool tells a traced call about where it ran. */
export interface CallSpanNotes {
  sandboxId?: string
  /** the call waited for a sandbox (none was idle): these are the start phases of the one it got */
  waitedFor?: StartupTimings
}

/**
 * A call as a sandbox gets it: the pool makes it when the call starts on a sandbox, with the
 * deadline computed once there (the timeout counts from then, not while the call waited).
 */
export interface InvokeRequest extends CallRequest {
  /** absolute deadline, Date.now() based */
  readonly deadline: number
}

/** Time spent in the call, split by phase, in microseconds (0 where the phase did not happen). */
export interface InvokeTimings {
  /** a new instance was made on the critical path of this call */
  instantiateUs: number
  /** the function itself ran */
  runUs: number
  /** whole call as the sandbox saw it */
  totalUs: number
}

/** Lower-case names; a header a function sent more than once (set-cookie) keeps every value. */
export type ResponseHeaders = Record<string, string | string[]>

/** Adds a header a function sent, keeping earlier values of the same name. */
export function addResponseHeader(headers: ResponseHeaders, name: string, value: string): void {
  const had = headers[name]
  headers[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value]
}

export interface InvokeResult {
  status: number
  headers: ResponseHeaders
  body: Buffer
  /** what the function wrote to stderr (logs) */
  stderr?: string
  timings?: InvokeTimings
  /**
   * usage (issue 13): CPU time of the call in microseconds, where the tier can tell it apart from
   * other calls' (the app host's process CPU while it ran no other call); absent elsewhere
   */
  cpuUs?: number
  /** tracing (issue 13): the kindling.call hops this call made (nested ones too), when it was traced */
  hops?: ChainHop[]
  /**
   * set when the call failed inside the sandbox (trap, exit, timeout): then status, headers and body
   * are the error's, made by failedResult (isolation/errors.ts); never set on the function's own answer
   */
  errorCode?: ErrorCode
}

export type DisposeReason = 'scale-down' | 'undeploy' | 'idle' | 'failed' | 'shutdown' | 'replaced'

/**
 * What a call's cancel signal offers a tier: the part of AbortSignal the tiers use (an AbortSignal
 * fits). The gateway passes a lighter one of its own (runtime/gateway/cancel.ts).
 */
export interface CancelSignal {
  readonly aborted: boolean
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

export interface Sandbox {
  readonly id: string
  readonly startup: StartupTimings
  /** false once the sandbox has died or been disposed; the pool must not hand it out */
  readonly alive: boolean
  /**
   * Runs one call. `signal` fires when the caller no longer wants the answer (its client hung up):
   * the tier stops the call as it stops one past its deadline. A sandbox brings itself back to a
   * clean state after answering, inside its own thread or process and off the call's critical
   * path; the pool may hand it the next call as soon as this one has answered.
   */
  invoke(req: InvokeRequest, signal: CancelSignal): Promise<InvokeResult>
  dispose(reason: DisposeReason): Promise<void>
}

/**
 * P is what the tier's prepare makes: the pool keeps it and hands the same value back to spawn and
 * release, so a tier never downcasts it.
 */
export interface IsolationTier<P extends Prepared = Prepared> {
  readonly name: TierName
  readonly capabilities: TierCapabilities
  /** why the tier cannot run here, or null when it can */
  unavailableReason(): string | null
  /** once per function version: instrument (the upload validated and classified), transpile, plan */
  prepare(artifact: FunctionArtifact): Promise<P>
  /** drop what prepare made (the function version is gone) */
  release(prepared: P): Promise<void>
  /** the cold start */
  spawn(prepared: P, opts: SpawnOptions): Promise<Sandbox>
  close(): Promise<void>
}

/** One line of function output or of kindling's own messages about a function (for /system/logs). */
export interface FunctionLogEntry {
  /** name.namespace */
  key: string
  /** the sandbox or process that wrote it */
  instance: string
  stream: 'stdout' | 'stderr' | 'system'
  text: string
}

/**
 * Default limits and tunables of the tiers. runtime/tiers.ts fills them from the config table
 * (runtime/config.ts, where each is documented with its KINDLING_* name); a tier never reads the
 * config module itself.
 */
export interface TierSettings {
  execTimeoutMs: number
  timeoutGraceMs: number
  memoryMiB: number
  maxBodyBytes: number
  interruptFuel: number
  appHostHeapMiB: number
  spareAppHosts: number
  /** thread: booted workers each app host keeps ahead per heap limit in use */
  threadSpareWorkers: number
  /** thread: smallest V8 heap of a worker, whatever limits.memory says */
  threadMinHeapMiB: number
  /** process: booted processes kept ahead per memory limit in use */
  processSpareProcesses: number
  /** process: smallest V8 heap of a sandbox process */
  processMinHeapMiB: number
  /** process: what a sandbox process uses besides wasm memory and heap, added to its cgroup limit */
  processBaselineMiB: number
  /** container: an idle HTTP-mode container is paused after this long (0 = never) */
  containerPauseIdleMs: number
  /** container: most processes in one container */
  containerPidsLimit: number
  /** container: size of the /tmp tmpfs */
  containerTmpMiB: number
  /** container: size of each container's own tmpfs (writable layer, secrets, call I/O) */
  containerWritableLayerMiB: number
  /** container: how long an HTTP-mode server may take to become ready */
  containerReadyTimeoutMs: number
  /** container: an idle connection to an HTTP-mode server is closed after this long */
  containerKeepAliveMs: number
  /** outbound HTTP (issue 13 item 1): largest response body a function's request may read (undefined: 4 MiB) */
  outboundMaxResponseBytes?: number
  /** outbound request cap (issue 13 item 1): largest request body (or bytes into a tunnel) a function may send (undefined: 4 MiB) */
  outboundMaxRequestBytes?: number
  /** container: registry pulls (mirrors, insecure registries, credentials file, timeout, size caps) */
  registryMirrors: string[]
  insecureRegistries: string[]
  registryAuthFile: string
  registryTimeoutMs: number
  imageMaxManifestBytes: number
  imageMaxLayerBytes: number
  imageMaxUnpackedBytes: number
  // key-value state (issue 13, item 2)
  kvMaxKeyBytes: number
  kvMaxValueBytes: number
  kvMaxStoreBytes: number
  /** cluster node: KINDLING_NATS_URL, whose JetStream KV holds the stores ('' or undefined: SQLite in the data dir) */
  natsUrl?: string
  kvClusterTimeoutMs?: number
}

/** What every tier receives when it is constructed: its slice of the data dir and kindling's services. */
export interface TierContext {
  /** absolute path of a folder the tier owns inside the data dir (created by kindling) */
  stateDir: string
  /** absolute data dir (shared artifacts, images) */
  dataDir: string
  /** default function limits and knobs from the config module */
  settings: TierSettings
  /** secret values by namespace and name; undefined when missing */
  readSecret(namespace: string, name: string): Buffer | undefined
  /** function logs and kindling's messages about functions */
  log(entry: FunctionLogEntry): void
  /** variables (issue 13, item 3): the gateway's environment values KINDLING_VARIABLES_FROM_ENV allows */
  envVariables?: Readonly<Record<string, string>>
}
