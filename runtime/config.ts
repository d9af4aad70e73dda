// The one config module: a defaults table with the unit in every key, read from KINDLING_* once at
// start and validated there. Nothing else in kindling reads process.env for its settings.
import path from 'node:path'
import { parseGrants } from './async/callback-policy.js'
import { parseMirrors } from '../isolation/container/images/mirrors.js'

type Kind = 'string' | 'int' | 'bool' | 'list'
interface Entry<T> {
  env: string
  kind: Kind
  default: T
  doc: string
  min?: number
  max?: number
}

const MiB = 1024 * 1024

export const CONFIG_TABLE = {
  host: { env: 'KINDLING_HOST', kind: 'string', default: '127.0.0.1', doc: 'address the gateway listens on' },
  port: { env: 'KINDLING_PORT', kind: 'int', default: 8080, min: 0, max: 65535, doc: 'gateway port (0 picks a free one)' },
  dataDir: { env: 'KINDLING_DATA_DIR', kind: 'string', default: './.kindling', doc: 'data directory: SQLite, artifacts, images, secrets' },
  basicAuth: { env: 'KINDLING_BASIC_AUTH', kind: 'bool', default: true, doc: 'require basic auth on /system/*' },
  defaultNamespace: { env: 'KINDLING_DEFAULT_NAMESPACE', kind: 'string', default: 'openfaas-fn', doc: 'namespace used when none is given' },
  extraNamespaces: { env: 'KINDLING_NAMESPACES', kind: 'list', default: [] as string[], doc: 'further namespaces, comma separated' },
  deployExamples: { env: 'KINDLING_DEPLOY_EXAMPLES', kind: 'bool', default: true, doc: 'deploy functions/ examples into a fresh data dir' },
  maxUploadBytes: { env: 'KINDLING_MAX_UPLOAD_BYTES', kind: 'int', default: 64 * MiB, min: 1024, doc: 'largest accepted artifact upload' },
  maxBodyBytes: { env: 'KINDLING_MAX_BODY_BYTES', kind: 'int', default: 16 * MiB, min: 1024, doc: 'largest request body to a function or the API' },
  execTimeoutMs: { env: 'KINDLING_EXEC_TIMEOUT_MS', kind: 'int', default: 30_000, min: 1, doc: 'default per-call timeout (exec_timeout overrides per function)' },
  timeoutGraceMs: { env: 'KINDLING_TIMEOUT_GRACE_MS', kind: 'int', default: 250, min: 0, doc: 'after a deadline, how long a sandbox has to stop itself before it is killed' },
  memoryMiB: { env: 'KINDLING_MEMORY_MIB', kind: 'int', default: 128, min: 1, max: 4096, doc: 'default memory limit of a function' },
  appHostHeapMiB: { env: 'KINDLING_APP_HOST_HEAP_MIB', kind: 'int', default: 1024, min: 64, doc: 'V8 heap limit of an app host process' },
  spareAppHosts: { env: 'KINDLING_SPARE_APP_HOSTS', kind: 'int', default: 1, min: 0, max: 16, doc: 'app host processes started ahead for new applications' },
  maxReplicas: { env: 'KINDLING_MAX_REPLICAS', kind: 'int', default: 20, min: 1, doc: 'default com.openfaas.scale.max' },
  sandboxIdleMs: { env: 'KINDLING_SANDBOX_IDLE_MS', kind: 'int', default: 60_000, min: 0, doc: 'sandboxes above the warm count are disposed after this long idle' },
  queueWaitMs: { env: 'KINDLING_QUEUE_WAIT_MS', kind: 'int', default: 60_000, min: 1, doc: 'how long a call may wait for a free or new sandbox (scale from zero included)' },
  queueDepth: { env: 'KINDLING_QUEUE_DEPTH', kind: 'int', default: 1024, min: 0, doc: 'calls that may wait per function when it is at max replicas; beyond: 429' },
  autoscaleWindowMs: { env: 'KINDLING_AUTOSCALE_WINDOW_MS', kind: 'int', default: 10_000, min: 1000, doc: 'window over which the autoscaler measures load (the CE rule\'s rate(...[10s]))' },
  autoscaleFireAfterMs: { env: 'KINDLING_AUTOSCALE_FIRE_AFTER_MS', kind: 'int', default: 5_000, min: 0, doc: 'how long the CE rule (> 5 rps) must hold before it scales up (the alert\'s for: 5s)' },
  asyncConcurrency: { env: 'KINDLING_ASYNC_CONCURRENCY', kind: 'int', default: 16, min: 1, max: 1024, doc: 'asynchronous calls run at once (the queue worker\'s max_inflight)' },
  asyncMaxQueued: { env: 'KINDLING_ASYNC_MAX_QUEUED', kind: 'int', default: 100_000, min: 1, doc: 'asynchronous calls that may wait; beyond: 429' },
  asyncRetryAttempts: { env: 'KINDLING_ASYNC_RETRY_ATTEMPTS', kind: 'int', default: 10, min: 0, doc: 'default com.openfaas.retry.attempts: retries after the first run' },
  asyncRetryMinWaitMs: { env: 'KINDLING_ASYNC_RETRY_MIN_WAIT_MS', kind: 'int', default: 10_000, min: 0, doc: 'default com.openfaas.retry.min_wait: the first backoff' },
  asyncRetryMaxWaitMs: { env: 'KINDLING_ASYNC_RETRY_MAX_WAIT_MS', kind: 'int', default: 120_000, min: 0, doc: 'default com.openfaas.retry.max_wait: the longest backoff' },
  asyncRetryCodes: { env: 'KINDLING_ASYNC_RETRY_CODES', kind: 'list', default: ['429', '502', '500', '504', '408'] as string[], doc: 'default com.openfaas.retry.codes: statuses that are retried' },
  asyncCallbackAttempts: { env: 'KINDLING_ASYNC_CALLBACK_ATTEMPTS', kind: 'int', default: 5, min: 1, doc: 'tries to POST a result to its X-Callback-Url' },
  asyncCallbackTimeoutMs: { env: 'KINDLING_ASYNC_CALLBACK_TIMEOUT_MS', kind: 'int', default: 10_000, min: 1, doc: 'time limit of one callback POST' },
  asyncCallbackRetryMs: { env: 'KINDLING_ASYNC_CALLBACK_RETRY_MS', kind: 'int', default: 1_000, min: 0, doc: 'first wait before a failed callback POST is tried again (doubles each time)' },
  asyncRetentionMs: { env: 'KINDLING_ASYNC_RETENTION_MS', kind: 'int', default: 24 * 3_600_000, min: 0, doc: 'finished asynchronous calls stay readable (GET /system/async-calls/{id}) this long (0 = forever)' },
  logFileMaxBytes: { env: 'KINDLING_LOG_FILE_MAX_BYTES', kind: 'int', default: 4 * MiB, min: 0, doc: 'function logs kept in the data dir across restarts (two files of this size; 0 = memory only)' },
  interruptFuel: { env: 'KINDLING_INTERRUPT_FUEL', kind: 'int', default: 4096, min: 1, doc: 'loop iterations between two deadline checks in instrumented wasm' },
  // async callbacks
  callbackAllow: { env: 'KINDLING_CALLBACK_ALLOW', kind: 'list', default: [] as string[], doc: 'callback destinations granted although not public: hosts, *.domains, host:port, addresses and CIDRs, comma separated (e.g. 127.0.0.1,10.0.0.0/8,hooks.internal:8443)' },
  asyncCallbackConcurrency: { env: 'KINDLING_ASYNC_CALLBACK_CONCURRENCY', kind: 'int', default: 64, min: 1, max: 4096, doc: 'callback POSTs under way at once, all hosts together' },
  asyncCallbackPerHost: { env: 'KINDLING_ASYNC_CALLBACK_PER_HOST', kind: 'int', default: 4, min: 1, max: 1024, doc: 'callback POSTs under way at once to one host (any scheme and port); the others wait their turn, hosts served in turn' },
  // data dir: full disk (issue 18, item 10)
  storageMinFreeBytes: { env: 'KINDLING_STORAGE_MIN_FREE_BYTES', kind: 'int', default: 16 * MiB, min: 0, doc: 'below this much free space in the data dir kindling runs degraded: async accepts, deploys, uploads and secret writes answer 507, calls are still served' },
  storageCheckIntervalMs: { env: 'KINDLING_STORAGE_CHECK_INTERVAL_MS', kind: 'int', default: 5_000, min: 10, doc: 'how often the free space of the data dir is checked (degraded mode starts and ends on it)' },
  // container tier
  containerWritableLayerMiB: { env: 'KINDLING_CONTAINER_WRITABLE_LAYER_MIB', kind: 'int', default: 64, min: 1, doc: 'each container\'s own tmpfs: the writable layer of readOnlyRootFilesystem=false, its secrets and call I/O (writes past it fail with ENOSPC)' },
  // gateway limits (issue 18: slow clients, replicas, secrets, bytes in flight)
  headersTimeoutMs: { env: 'KINDLING_HEADERS_TIMEOUT_MS', kind: 'int', default: 10_000, min: 100, doc: 'a client must send its request headers within this time, or the connection is closed (408)' },
  requestTimeoutMs: { env: 'KINDLING_REQUEST_TIMEOUT_MS', kind: 'int', default: 60_000, min: 100, doc: 'a client must send its whole request (headers and body), and take a call\'s answer, within this time' },
  keepAliveTimeoutMs: { env: 'KINDLING_KEEP_ALIVE_TIMEOUT_MS', kind: 'int', default: 75_000, min: 100, doc: 'an idle keep-alive connection is closed after this long' },
  maxConnections: { env: 'KINDLING_MAX_CONNECTIONS', kind: 'int', default: 0, min: 0, doc: 'open client connections at most; beyond, new ones are closed at once (0 = three quarters of the open-file limit)' },
  maxReplicasCap: { env: 'KINDLING_MAX_REPLICAS_CAP', kind: 'int', default: 100, min: 1, max: 100_000, doc: 'highest replica count a deployment (com.openfaas.scale.min/max) or scale-function may ask for; above: 400' },
  sandboxStartConcurrency: { env: 'KINDLING_SANDBOX_START_CONCURRENCY', kind: 'int', default: 4, min: 1, max: 256, doc: 'sandboxes one function starts at once when it fills up to its replicas' },
  maxSecretBytes: { env: 'KINDLING_MAX_SECRET_BYTES', kind: 'int', default: 1 * MiB, min: 1, doc: 'largest secret value' },
  maxInflightBytes: { env: 'KINDLING_MAX_INFLIGHT_BYTES', kind: 'int', default: 256 * MiB, min: 1024, doc: 'request body bytes all calls to functions may hold at once; beyond: 503 with Retry-After' },
  // tier defaults (issue 11 item 6): what the tiers used to hard-code, passed to them as TierContext.settings
  threadSpareWorkers: { env: 'KINDLING_THREAD_SPARE_WORKERS', kind: 'int', default: 1, min: 0, max: 64, doc: 'thread tier: booted worker threads each app host keeps ahead per heap limit in use' },
  threadMinHeapMiB: { env: 'KINDLING_THREAD_MIN_HEAP_MIB', kind: 'int', default: 16, min: 4, doc: 'thread tier: smallest V8 heap a worker gets, whatever limits.memory says (it needs a few MiB to boot)' },
  processSpareProcesses: { env: 'KINDLING_PROCESS_SPARE_PROCESSES', kind: 'int', default: 1, min: 0, max: 64, doc: 'process tier: booted sandbox processes kept ahead per memory limit in use' },
  processMinHeapMiB: { env: 'KINDLING_PROCESS_MIN_HEAP_MIB', kind: 'int', default: 32, min: 8, doc: 'process tier: smallest V8 heap a sandbox process gets (Node needs a few MiB to boot)' },
  processBaselineMiB: { env: 'KINDLING_PROCESS_BASELINE_MIB', kind: 'int', default: 96, min: 0, doc: 'process tier: what a sandbox process uses besides wasm memory and heap (Node\'s own RSS), added to its memory cgroup limit' },
  containerPauseIdleMs: { env: 'KINDLING_CONTAINER_PAUSE_IDLE_MS', kind: 'int', default: 1000, min: 0, doc: 'container tier: an HTTP-mode container with no call for this long is frozen (cgroup freezer) until the next call (0 = never)' },
  containerPidsLimit: { env: 'KINDLING_CONTAINER_PIDS_LIMIT', kind: 'int', default: 512, min: 1, doc: 'container tier: most processes and threads in one container (pids cgroup)' },
  containerTmpMiB: { env: 'KINDLING_CONTAINER_TMP_MIB', kind: 'int', default: 64, min: 1, doc: 'container tier: size of each container\'s /tmp tmpfs (counts against its memory limit)' },
  containerReadyTimeoutMs: { env: 'KINDLING_CONTAINER_READY_TIMEOUT_MS', kind: 'int', default: 30_000, min: 1, doc: 'container tier: how long an HTTP-mode function server may take to accept connections (and answer ready_path)' },
  containerKeepAliveMs: { env: 'KINDLING_CONTAINER_KEEP_ALIVE_MS', kind: 'int', default: 4000, min: 1, doc: 'container tier: an idle connection to an HTTP-mode function server is closed after this long; keep it below the server\'s own keep-alive timeout (Node\'s default is 5 s)' },
  closeGraceMs: { env: 'KINDLING_CLOSE_GRACE_MS', kind: 'int', default: 2000, min: 0, doc: 'at shutdown, how long open client connections may finish their calls before they are cut' },
  // dashboard (issue 16): empty dirs mean the install's own dist/ui and bench/results
  dashboard: { env: 'KINDLING_DASHBOARD', kind: 'bool', default: true, doc: 'serve the web dashboard at / and /ui/ (static files only; its data comes from the /system API with the basic auth credentials)' },
  dashboardDir: { env: 'KINDLING_DASHBOARD_DIR', kind: 'string', default: '', doc: 'the built dashboard (index.html, assets/); empty: dist/ui, which `npm run build` writes' },
  benchResultsDir: { env: 'KINDLING_BENCH_RESULTS_DIR', kind: 'string', default: '', doc: 'where the dashboard reads the latest benchmark runs (<label>-latest.json); empty: bench/results' },
  // CLI build (issue 16)
  rustcPath: { env: 'KINDLING_RUSTC', kind: 'string', default: '/usr/bin/rustc', doc: 'the rustc that `kindling build` runs for Rust functions (needs the wasm32-wasi target: Debian\'s libstd-rust-dev-wasm32)' },
  clangPath: { env: 'KINDLING_CLANG', kind: 'string', default: 'clang', doc: 'the clang that `kindling build` runs for C functions (needs wasi-libc)' },
  // cluster calls (issue 12, item 3)
  clusterTransport: { env: 'KINDLING_CLUSTER_TRANSPORT', kind: 'string', default: 'nats', doc: 'how a gateway passes a sync call to a worker: nats (request/reply on the worker\'s subject, the faster under load in bench/scopes/cluster.ts) or http (direct, keep-alive, to the worker\'s URL)' },
  // cluster roles and state (issue 12, items 1 and 2)
  advertiseUrl: { env: 'KINDLING_ADVERTISE_URL', kind: 'string', default: '', doc: 'the URL other cluster nodes reach this node at (http://HOST:PORT); empty: the address it listens on, which is loopback when KINDLING_HOST is 0.0.0.0' },
  // triggers (issue 13, item 4)
  triggers: { env: 'KINDLING_TRIGGERS', kind: 'bool', default: true, doc: 'cron schedules (annotations topic: cron-function, schedule) and NATS subjects (annotation topic, with KINDLING_NATS_URL) start asynchronous calls on this node; false: this node fires none (in a cluster the others still do)' },
  // key-value state and variables (issue 13, items 2-3)
  kvMaxKeyBytes: { env: 'KINDLING_KV_MAX_KEY_BYTES', kind: 'int', default: 1024, min: 1, max: 65_536, doc: 'longest key a function may use in a key-value store; longer: KV_ERROR -4 (KINDLING_ERR_KV_KEY_TOO_LARGE)' },
  kvMaxValueBytes: { env: 'KINDLING_KV_MAX_VALUE_BYTES', kind: 'int', default: 1 * MiB, min: 1, doc: 'largest value a function may store; larger: KV_ERROR -5 (KINDLING_ERR_KV_VALUE_TOO_LARGE)' },
  kvMaxStoreBytes: { env: 'KINDLING_KV_MAX_STORE_BYTES', kind: 'int', default: 64 * MiB, min: 1024, doc: 'most bytes (keys plus values) one application store holds; a write past it: KV_ERROR -6 (KINDLING_ERR_KV_STORE_FULL)' },
  variablesFromEnv: { env: 'KINDLING_VARIABLES_FROM_ENV', kind: 'list', default: [] as string[], doc: 'names of gateway environment variables that functions may read as variables (com.kindling.variables), after envVars and secrets; no other environment variable is ever given to a function' },
  // usage (issue 13, item 5)
  usageFlushMs: { env: 'KINDLING_USAGE_FLUSH_MS', kind: 'int', default: 10_000, min: 0, doc: 'how often per-function usage (per minute) is written to SQLite in one batch; 0: only at shutdown' },
  usageRetentionMs: { env: 'KINDLING_USAGE_RETENTION_MS', kind: 'int', default: 90 * 86_400_000, min: 0, doc: 'usage history older than this is deleted (kindling usage --since reaches this far back); 0: kept for ever' },
  // tracing (issue 13, item 6)
  otlpEndpoint: { env: 'KINDLING_OTLP_ENDPOINT', kind: 'string', default: '', doc: 'OTLP/HTTP collector (http://HOST:4318) that gets a span per call as JSON on /v1/traces; empty: no spans (a caller\'s traceparent is still checked and passed on)' },
  otlpFlushMs: { env: 'KINDLING_OTLP_FLUSH_MS', kind: 'int', default: 1000, min: 10, doc: 'spans are sent at least this often (and whenever 512 are waiting); at most 4096 wait, more are dropped and counted' },
  otlpTimeoutMs: { env: 'KINDLING_OTLP_TIMEOUT_MS', kind: 'int', default: 5000, min: 10, doc: 'a batch the collector has not taken within this is dropped (kindling_trace_spans_dropped_total)' },
  // outbound HTTP (issue 13 item 1)
  outboundMaxResponseBytes: { env: 'KINDLING_OUTBOUND_MAX_RESPONSE_BYTES', kind: 'int', default: 4 * MiB, min: 1024, doc: 'largest response body a function\'s outbound HTTP request (kindling.http_request) may read; a larger one fails with KINDLING_ERR_OUTBOUND_TOO_LARGE' },
  // JetStream key-value backend (issue 13 item 2, cluster)
  kvClusterTimeoutMs: { env: 'KINDLING_KV_CLUSTER_TIMEOUT_MS', kind: 'int', default: 5_000, min: 10, doc: 'cluster: longest wait for one key-value operation on JetStream KV (the stores of a cluster node); longer: KV_ERROR -9 (IO) for the function, which goes on running' },
  // outbound request cap (issue 13 item 1, egress review)
  outboundMaxRequestBytes: { env: 'KINDLING_OUTBOUND_MAX_REQUEST_BYTES', kind: 'int', default: 4 * MiB, min: 1024, doc: 'largest request body a function may send in one outbound HTTP request (kindling.http_request, wasi:http, a container\'s egress proxy; for a container\'s CONNECT tunnel: all bytes it sends into the tunnel); a larger one fails with KINDLING_ERR_OUTBOUND_REQUEST_TOO_LARGE (413)' },
  gatewayUrl: { env: 'OPENFAAS_URL', kind: 'string', default: '', doc: 'gateway the CLI talks to (as faas-cli reads it); empty: --gateway, else the stack file\'s provider.gateway, else http://127.0.0.1:8080' },
  // images from registries (issue 14)
  registryMirrors: { env: 'KINDLING_REGISTRY_MIRRORS', kind: 'list', default: [] as string[], doc: 'registry mirrors, comma separated registry=URL (e.g. docker.io=http://127.0.0.1:5000): images of that registry are pulled from the mirror only; functions/alpine and the other built-in names are pulled from a docker.io mirror when one is set, else built in' },
  insecureRegistries: { env: 'KINDLING_INSECURE_REGISTRIES', kind: 'list', default: [] as string[], doc: 'registries (host:port) that may be pulled from over plain HTTP; all others need HTTPS (a mirror URL written with http:// counts as listed)' },
  registryAuthFile: { env: 'KINDLING_REGISTRY_AUTH_FILE', kind: 'string', default: '', doc: 'docker config.json with registry credentials ("auths"), read at each pull; a namespace\'s secret named registry-auth, in the same format, comes first' },
  registryTimeoutMs: { env: 'KINDLING_REGISTRY_TIMEOUT_MS', kind: 'int', default: 30_000, min: 100, doc: 'a registry request fails (registry unreachable) when it makes no progress for this long' },
  imageMaxManifestBytes: { env: 'KINDLING_IMAGE_MAX_MANIFEST_BYTES', kind: 'int', default: 4 * MiB, min: 1024, doc: 'largest manifest, index or image config accepted from a registry or archive' },
  imageMaxLayerBytes: { env: 'KINDLING_IMAGE_MAX_LAYER_BYTES', kind: 'int', default: 2048 * MiB, min: 1024, doc: 'largest total of an image\'s layers as downloaded (compressed)' },
  imageMaxUnpackedBytes: { env: 'KINDLING_IMAGE_MAX_UNPACKED_BYTES', kind: 'int', default: 4096 * MiB, min: 1024, doc: 'largest total of file bytes an image unpacks to (a layer that inflates past it is refused)' },
  // cluster async calls (issue 12)
  clusterAsyncAckWaitMs: { env: 'KINDLING_CLUSTER_ASYNC_ACK_WAIT_MS', kind: 'int', default: 30_000, min: 500, doc: 'cluster: an async call whose worker stops confirming progress for this long (it died) is given to another worker' },
  // speed (issue 17)
  appHostCpuProfDir: { env: 'KINDLING_APP_HOST_CPU_PROF_DIR', kind: 'string', default: '', doc: 'profiling: when set, app hosts run with node --cpu-prof and write their profile into this folder when they exit (bench/profiles/profile.ts)' },
  // cluster (issue 12): empty natsUrl = the embedded single node, no NATS
  natsUrl: { env: 'KINDLING_NATS_URL', kind: 'string', default: '', doc: 'NATS server(s) of the cluster this node joins (nats://HOST:PORT, comma separated); empty: the embedded single node' },
  role: { env: 'KINDLING_ROLE', kind: 'string', default: 'all', doc: 'cluster role of this node: gateway (serves the API), worker (runs the tiers) or all' },
  clusterKeyFile: { env: 'KINDLING_CLUSTER_KEY_FILE', kind: 'string', default: '', doc: 'file holding the cluster key (32 random bytes, hex or base64) that seals secrets in the cluster\'s KV bucket; required with KINDLING_NATS_URL' },
  natsConnectTimeoutMs: { env: 'KINDLING_NATS_CONNECT_TIMEOUT_MS', kind: 'int', default: 5_000, min: 100, doc: 'how long a node waits for NATS at start before it gives up with an error naming the URL' },
  logLevel: { env: 'KINDLING_LOG_LEVEL', kind: 'string', default: 'info', doc: 'debug, info, warn or error' },
} satisfies Record<string, Entry<unknown>>

type Table = typeof CONFIG_TABLE
export type Config = { readonly [K in keyof Table]: Table[K]['default'] } & {
  /** absolute form of dataDir */
  readonly dataDirAbs: string
  /** the values of the KINDLING_VARIABLES_FROM_ENV names that are set (issue 13, item 3) */
  readonly variablesEnv: Readonly<Record<string, string>>
}

export class ConfigError extends Error {}

function parse(key: string, e: Entry<unknown>, raw: string): unknown {
  const v = raw.trim()
  switch (e.kind) {
    case 'string':
      return v
    case 'list':
      return v === '' ? [] : v.split(',').map((s) => s.trim()).filter(Boolean)
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(v)) return true
      if (/^(0|false|no|off)$/i.test(v)) return false
      throw new ConfigError(`${e.env}=${raw}: expected true or false (for ${key})`)
    case 'int': {
      if (!/^-?\d+$/.test(v)) throw new ConfigError(`${e.env}=${raw}: expected an integer (for ${key})`)
      return Number(v)
    }
  }
}

/**
 * Builds the configuration from the defaults, the environment and explicit overrides (tests and the
 * CLI pass overrides), validating every value once.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const out: Record<string, unknown> = {}
  for (const [key, entry] of Object.entries(CONFIG_TABLE) as [string, Entry<unknown>][]) {
    let value: unknown = entry.default
    const raw = env[entry.env]
    if (raw !== undefined && raw !== '') value = parse(key, entry, raw)
    if (key in overrides) value = (overrides as Record<string, unknown>)[key]
    if (entry.kind === 'int') {
      const n = value as number
      if (!Number.isInteger(n)) throw new ConfigError(`${key}: expected an integer, got ${String(value)}`)
      if (entry.min !== undefined && n < entry.min) throw new ConfigError(`${entry.env}=${n}: must be at least ${entry.min}`)
      if (entry.max !== undefined && n > entry.max) throw new ConfigError(`${entry.env}=${n}: must be at most ${entry.max}`)
    }
    out[key] = value
  }
  if (!['debug', 'info', 'warn', 'error'].includes(out.logLevel as string)) {
    throw new ConfigError(`KINDLING_LOG_LEVEL=${String(out.logLevel)}: must be debug, info, warn or error`)
  }
  for (const c of out.asyncRetryCodes as string[]) {
    if (!/^[1-5]\d\d$/.test(c)) throw new ConfigError(`KINDLING_ASYNC_RETRY_CODES=${(out.asyncRetryCodes as string[]).join(',')}: ${c} is not an HTTP status`)
  }
  if ((out.asyncRetryMaxWaitMs as number) < (out.asyncRetryMinWaitMs as number)) {
    throw new ConfigError(`KINDLING_ASYNC_RETRY_MAX_WAIT_MS=${String(out.asyncRetryMaxWaitMs)}: must be at least KINDLING_ASYNC_RETRY_MIN_WAIT_MS`)
  }
  try {
    parseGrants(out.callbackAllow as string[])
    parseMirrors(out.registryMirrors as string[])
  } catch (e) {
    throw new ConfigError((e as Error).message)
  }
  if (!['gateway', 'worker', 'all'].includes(out.role as string)) {
    throw new ConfigError(`KINDLING_ROLE=${String(out.role)}: must be gateway, worker or all`)
  }
  if (!['http', 'nats'].includes(out.clusterTransport as string)) {
    throw new ConfigError(`KINDLING_CLUSTER_TRANSPORT=${String(out.clusterTransport)}: must be http or nats`)
  }
  if (out.natsUrl === '' && out.role !== 'all') {
    throw new ConfigError(`KINDLING_ROLE=${String(out.role)}: a gateway-only or worker-only node needs a cluster (KINDLING_NATS_URL or --nats)`)
  }
  if (out.advertiseUrl !== '' && !/^https?:\/\/[^\s/]+\/?$/.test(out.advertiseUrl as string)) {
    throw new ConfigError(`KINDLING_ADVERTISE_URL=${String(out.advertiseUrl)}: must be http://HOST:PORT (the address other nodes reach this one at)`)
  }
  out.dataDirAbs = path.resolve(out.dataDir as string)
  // variables (issue 13, item 3): only the names the operator allows are read from the environment
  out.variablesEnv = overrides.variablesEnv ?? Object.freeze(Object.fromEntries((out.variablesFromEnv as string[]).filter((n) => env[n] !== undefined).map((n) => [n, env[n]!])))
  return Object.freeze(out) as Config
}

/** Every namespace the gateway serves, the default first. */
export function namespacesOf(config: Config): string[] {
  return [...new Set([config.defaultNamespace, ...config.extraNamespaces])]
}
