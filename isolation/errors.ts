// The one error table. Every error kindling reports has a code, an HTTP status and a message that
// says what to do. A test walks this table and checks README's copy of it; add new errors here,
// never ad hoc in a route or a tier (then run `node scripts/errors-table.mjs --write`).
// It lives under isolation/ and imports nothing (only types): the tiers produce most of these codes
// and must not import runtime/, while runtime/ already stands on isolation/ (tier.ts);
// runtime/errors.ts re-exports it for the gateway.
import type { InvokeResult, InvokeTimings } from './tier.js'

export const ERRORS = {
  KINDLING_ERR_BAD_REQUEST: { status: 400, hint: 'The request is malformed; check the route and body against the OpenFaaS API.' },
  KINDLING_ERR_INVALID_JSON: { status: 400, hint: 'The body must be valid JSON.' },
  KINDLING_ERR_MISSING_FIELD: { status: 400, hint: 'Add the missing field to the request body.' },
  KINDLING_ERR_INVALID_FIELD: { status: 400, hint: 'Fix the field so that it has the documented type and range.' },
  KINDLING_ERR_INVALID_NAME: { status: 400, hint: 'Names use letters, digits, "-" and "_" (and "." only to add a namespace), at most 63 characters.' },
  KINDLING_ERR_INVALID_NAMESPACE: { status: 400, hint: 'Use one of the namespaces listed by GET /system/namespaces.' },
  KINDLING_ERR_INVALID_LABEL: { status: 400, hint: 'Fix the label value; README lists the labels kindling reads.' },
  KINDLING_ERR_INVALID_LIMIT: { status: 400, hint: 'Limits take Kubernetes quantities, such as memory "128Mi" or cpu "500m".' },
  KINDLING_ERR_UNKNOWN_TIER: { status: 400, hint: 'com.kindling.isolation must be one of: inline, wasm, thread, process, container.' },
  KINDLING_ERR_TIER_UNAVAILABLE: { status: 400, hint: 'That isolation tier cannot run on this machine; GET /system/info lists the available tiers.' },
  KINDLING_ERR_INVALID_IMAGE: { status: 400, hint: 'A WebAssembly deployment names its artifact as "wasm:sha256:<64 hex digits>" (POST /system/artifacts returns it).' },
  KINDLING_ERR_ARTIFACT_NOT_FOUND: { status: 400, hint: 'Upload the module first with POST /system/artifacts, then deploy the image it returns.' },
  KINDLING_ERR_IMAGE_NOT_FOUND: { status: 400, hint: 'Check the image name; kindling pulls it from its registry (or KINDLING_REGISTRY_MIRRORS), or import or build it into the local image store (kindling image list shows what is there).' },
  KINDLING_ERR_NOT_WASM: { status: 400, hint: 'Upload a WebAssembly binary (it starts with the bytes \\0asm) with Content-Type application/wasm.' },
  KINDLING_ERR_WASM_INVALID: { status: 400, hint: 'The module failed to validate or compile; rebuild it and upload it again.' },
  KINDLING_ERR_UNSUPPORTED_FORMAT: { status: 400, hint: 'kindling runs: WASI preview1 commands (export _start), AssemblyScript modules (export handle or handleBytes, built with --exportRuntime) and wasi:http components.' },
  KINDLING_ERR_FORBIDDEN_IMPORT: { status: 400, hint: 'The module imports something kindling does not grant; only wasi_snapshot_preview1, the AssemblyScript env imports (abort, trace, seed) and kindling.call / kindling.result_read / kindling.http_request / kindling.http_response_read / kindling.kv_* / kindling.var_get / kindling.response_header_set are provided.' },
  KINDLING_ERR_MEMORY_TOO_SMALL: { status: 400, hint: 'The module needs more initial memory than limits.memory allows; raise the limit.' },
  KINDLING_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, hint: 'Send the body with the Content-Type this route accepts.' },
  KINDLING_ERR_PAYLOAD_TOO_LARGE: { status: 413, hint: 'The body is larger than the configured limit; see README for the KINDLING_* limits.' },
  KINDLING_ERR_UNAUTHORIZED: { status: 401, hint: 'Send basic auth: user "admin" and the password in <data dir>/secrets/basic-auth-password.' },
  KINDLING_ERR_ROUTE_NOT_FOUND: { status: 404, hint: 'No such route; README lists the API (the OpenFaaS gateway routes plus /system/artifacts).' },
  KINDLING_ERR_FUNCTION_NOT_FOUND: { status: 404, hint: 'Deploy the function first; GET /system/functions lists what is deployed.' },
  KINDLING_ERR_FUNCTION_EXISTS: { status: 409, hint: 'The function is already deployed; update it with PUT /system/functions.' },
  KINDLING_ERR_SECRET_NOT_FOUND: { status: 404, hint: 'Create the secret first with POST /system/secrets.' },
  KINDLING_ERR_SECRET_EXISTS: { status: 409, hint: 'The secret exists; replace it with PUT /system/secrets.' },
  KINDLING_ERR_CALL_NOT_FOUND: { status: 404, hint: 'No asynchronous call has that id.' },
  KINDLING_ERR_CALL_NOT_CANCELLABLE: { status: 409, hint: 'Only a call that is still queued can be cancelled; GET /system/async-calls/{id} shows its state.' },
  KINDLING_ERR_ASYNC_QUEUE_FULL: { status: 429, hint: 'The asynchronous queue is full (KINDLING_ASYNC_MAX_QUEUED); retry later.' },
  KINDLING_ERR_INVALID_CALLBACK_URL: { status: 400, hint: 'X-Callback-Url must be an absolute http(s) URL without user:password@.' },
  KINDLING_ERR_INVALID_QUERY: { status: 422, hint: 'Fix the query parameters (since is RFC3339, tail an integer, follow a boolean).' },
  KINDLING_ERR_METHOD_NOT_ALLOWED: { status: 405, hint: 'Functions accept GET, POST, PUT, PATCH, DELETE, OPTIONS and HEAD.' },
  KINDLING_ERR_NOT_IMPLEMENTED: { status: 501, hint: 'This route exists in OpenFaaS Enterprise only.' },
  KINDLING_ERR_OVERLOADED: { status: 429, hint: 'The function is at its maximum replicas and its queue is full; retry later or raise com.openfaas.scale.max.' },
  KINDLING_ERR_FUNCTION_TRAP: { status: 500, hint: 'The function trapped; the message says where. Fix the function.' },
  KINDLING_ERR_FUNCTION_EXIT: { status: 500, hint: 'The function exited with a non-zero status; its stderr follows.' },
  KINDLING_ERR_FUNCTION_FAILED: { status: 500, hint: 'The function failed as the message says (its stderr follows when it wrote any); fix the function.' },
  KINDLING_ERR_MEMORY_LIMIT: { status: 500, hint: 'The function reached its memory limit; raise limits.memory or use less memory.' },
  KINDLING_ERR_HOST_DIED: { status: 502, hint: 'The process, worker thread or container running the function died; it has been replaced, retry the call.' },
  KINDLING_ERR_SANDBOX_FAILED: { status: 502, hint: 'kindling could not start a sandbox for the function; the message says why.' },
  KINDLING_ERR_FUNCTION_REMOVED: { status: 410, hint: 'The function was removed while the call waited or ran.' },
  KINDLING_ERR_SHUTTING_DOWN: { status: 503, hint: 'kindling is shutting down; retry against a running gateway.' },
  KINDLING_ERR_TIMEOUT: { status: 504, hint: 'The call ran longer than its timeout (exec_timeout or com.kindling.timeout) and was stopped.' },
  // async callbacks
  KINDLING_ERR_CALLBACK_DENIED: { status: 400, hint: 'X-Callback-Url names a loopback, private, link-local or other non-public address; use a public address, or ask the operator to grant it in KINDLING_CALLBACK_ALLOW.' },
  // wasm isolation
  KINDLING_ERR_STACK_OVERFLOW: { status: 500, hint: 'The function recursed deeper than the call stack allows (V8\'s stack limit stopped it); recurse less deeply or iterate.' },
  // data dir: full disk, secrets at rest (issue 18, items 10-11)
  KINDLING_ERR_STORAGE_FULL: { status: 507, hint: 'The data dir\'s file system is full: free space there (GET /healthz says "degraded" until then); calls to /function/* are still served.' },
  KINDLING_ERR_SECRET_UNREADABLE: { status: 500, hint: 'The secret does not open with <data dir>/secrets/secrets.key; restore that file from a backup or set the secret again with PUT /system/secrets.' },
  // gateway limits (issue 18)
  KINDLING_ERR_INVALID_SECRET_VALUE: { status: 400, hint: 'Send exactly one of value (a non-empty string) or rawValue (standard base64 of the bytes), no larger than KINDLING_MAX_SECRET_BYTES.' },
  KINDLING_ERR_TOO_MANY_REPLICAS: { status: 400, hint: 'Ask for at most KINDLING_MAX_REPLICAS_CAP replicas (com.openfaas.scale.min, com.openfaas.scale.max, scale-function); the operator can raise the cap.' },
  KINDLING_ERR_INFLIGHT_BYTES: { status: 503, hint: 'The gateway holds as many request bytes as KINDLING_MAX_INFLIGHT_BYTES allows; retry after the Retry-After delay.' },
  // requests refused before a route runs
  KINDLING_ERR_URI_TOO_LONG: { status: 414, hint: 'Function names are at most 63 characters and call ids 128; shorten the URL.' },
  KINDLING_ERR_HEADERS_TOO_LARGE: { status: 431, hint: 'Send fewer or smaller request headers.' },
  KINDLING_ERR_REQUEST_TIMEOUT: { status: 408, hint: 'Send the whole request within KINDLING_REQUEST_TIMEOUT_MS (headers within KINDLING_HEADERS_TIMEOUT_MS).' },
  // call cancellation (issue 11 item 4)
  KINDLING_ERR_CALL_CANCELLED: { status: 499, hint: 'The client hung up before the answer: the call was stopped (or dropped from the queue). Nothing to do unless it was not meant to.' },
  // cluster (issue 12)
  KINDLING_ERR_CLUSTER_UNAVAILABLE: { status: 503, hint: 'This node cannot reach the cluster\'s NATS server just now, so the change was not stored anywhere; retry when GET /healthz says the cluster is connected again.' },
  // dashboard (issue 16)
  KINDLING_ERR_DASHBOARD_NOT_BUILT: { status: 503, hint: 'The dashboard files are missing: run `npm run build` (npm ci runs it too), which writes them to dist/ui, or point KINDLING_DASHBOARD_DIR at a built copy; then restart.' },
  // images from registries (issue 14)
  KINDLING_ERR_IMAGE_TAG_NOT_FOUND: { status: 400, hint: 'The registry has the repository but not this tag or digest; check the tag (the registry\'s tag list shows what exists) or push it.' },
  KINDLING_ERR_REGISTRY_AUTH: { status: 400, hint: 'Give kindling credentials for the registry: a docker config.json in KINDLING_REGISTRY_AUTH_FILE, or a secret named registry-auth in the function\'s namespace holding one.' },
  KINDLING_ERR_REGISTRY_UNREACHABLE: { status: 400, hint: 'Check the registry\'s address, that it is up, and KINDLING_REGISTRY_MIRRORS / KINDLING_INSECURE_REGISTRIES (plain HTTP needs the latter); KINDLING_REGISTRY_TIMEOUT_MS bounds each request.' },
  KINDLING_ERR_IMAGE_PLATFORM: { status: 400, hint: 'The image index has no image for this machine\'s platform (linux/amd64 here); build or push one for it.' },
  KINDLING_ERR_IMAGE_CORRUPT: { status: 400, hint: 'A blob did not match its digest or could not be unpacked; the registry or the archive is damaged or was tampered with. Push the image again.' },
  KINDLING_ERR_IMAGE_UNSAFE_LAYER: { status: 400, hint: 'A layer tries to write outside its root filesystem (.. in a name, or a hard link to a file not in the image); kindling refuses such images.' },
  KINDLING_ERR_IMAGE_TOO_LARGE: { status: 413, hint: 'The image is larger than KINDLING_IMAGE_MAX_MANIFEST_BYTES, KINDLING_IMAGE_MAX_LAYER_BYTES or KINDLING_IMAGE_MAX_UNPACKED_BYTES allow; raise them or use a smaller image.' },
  // cluster calls (issue 12, item 3)
  KINDLING_ERR_NO_WORKER: { status: 503, hint: 'No live worker in the cluster can run this function\'s tier now; start a worker with that tier (GET /system/info lists each node\'s tiers) or retry when one has joined.' },
  KINDLING_ERR_WORKER_LOST: { status: 502, hint: 'The worker running the call died or left the cluster before it answered; the call may or may not have run. Retry it: later calls go to the live workers.' },
  // cluster state (issue 12)
  KINDLING_ERR_CLUSTER_CONFLICT: { status: 409, hint: 'Another gateway changed the same function or secret at the same moment and its change was stored first; read it again (GET /system/function/NAME) and retry yours if it is still wanted.' },
  // async dead letters and async calls in a cluster (issue 12)
  KINDLING_ERR_CALL_NOT_REPLAYABLE: { status: 409, hint: 'Only a dead call (one whose retries ran out: GET /system/async-calls?state=dead) can be replayed, and only once; GET /system/async-calls/{id} shows its state and the call that replayed it.' },
  // triggers (issue 13, item 4)
  KINDLING_ERR_INVALID_SCHEDULE: { status: 400, hint: 'Fix the schedule annotation: a cron expression of 5 fields (minute hour day-of-month month day-of-week, e.g. "*/5 * * * *") or 6 with seconds first, evaluated in UTC; topic cron-function needs one.' },
  KINDLING_ERR_INVALID_TOPIC: { status: 400, hint: 'Fix the topic annotation: comma-separated NATS subjects (e.g. orders.created), not starting with kindling., $, _INBOX or a wildcard; cron-function asks for a schedule instead.' },
  // key-value state and variables (issue 13, items 2-3): codes a function gets back from its kindling.kv_* / var_get imports
  KINDLING_ERR_KV_NOT_GRANTED: { status: 403, hint: 'Guest code -1: grant the store with annotation com.kindling.kv (store names, comma separated; stores belong to the function\'s com.kindling.app).' },
  KINDLING_ERR_KV_NOT_FOUND: { status: 404, hint: 'Guest code -2: the key is not in the store (or its TTL passed), or the variable has no value in envVars, secrets or KINDLING_VARIABLES_FROM_ENV.' },
  KINDLING_ERR_KV_KEY_TOO_LARGE: { status: 413, hint: 'Guest code -4: keys are 1 to KINDLING_KV_MAX_KEY_BYTES bytes; use a shorter key (or a hash of it).' },
  KINDLING_ERR_KV_VALUE_TOO_LARGE: { status: 413, hint: 'Guest code -5: values are at most KINDLING_KV_MAX_VALUE_BYTES bytes; split the value or store less.' },
  KINDLING_ERR_KV_STORE_FULL: { status: 507, hint: 'Guest code -6: the store holds KINDLING_KV_MAX_STORE_BYTES; delete keys, set TTLs, or ask the operator to raise the limit.' },
  KINDLING_ERR_VARIABLE_NOT_GRANTED: { status: 403, hint: 'Guest code -1 from var_get: name the variable in annotation com.kindling.variables.' },
  // outbound HTTP (issue 13 item 1)
  KINDLING_ERR_INVALID_OUTBOUND: { status: 400, hint: 'com.kindling.outbound is a comma-separated list of scheme://host[:port] patterns (http or https; host a name, an address, * or *.domain; port a number or *), e.g. https://api.example.com,http://127.0.0.1:8099.' },
  KINDLING_ERR_OUTBOUND_DENIED: { status: 403, hint: 'The function asked for a URL its com.kindling.outbound annotation does not grant (or a redirect left the list, or the host resolved to a non-public address a pattern does not name literally); add a pattern for it to the annotation and redeploy.' },
  KINDLING_ERR_OUTBOUND_TOO_LARGE: { status: 502, hint: 'The response of an outbound request was larger than KINDLING_OUTBOUND_MAX_RESPONSE_BYTES; ask for less (a range, a page) or raise the setting.' },
  KINDLING_ERR_OUTBOUND_FAILED: { status: 502, hint: 'An outbound request failed: the name did not resolve, the connection or TLS failed, there were more than 5 redirects, or the URL was not an absolute http(s) URL. The message says which.' },
  // response headers of modules (issue 13)
  KINDLING_ERR_RESPONSE_HEADER: { status: 502, hint: 'kindling.response_header_set refused a header (guest codes): -1 a pointer outside memory, -2 a name that is not an HTTP token, -3 a value with CR, LF or another control character, -4 a header kindling sets itself (hop-by-hop, content-length, status, x-call-id, x-start-time, x-served-by, x-duration-seconds, x-kindling-*), -5 more than 64 headers or 16 KiB in one answer. Fix the header the function sets.' },
  // wasi:keyvalue for components and the operator's store API (issue 13, item 2)
  KINDLING_ERR_KV_NOT_A_NUMBER: { status: 409, hint: 'increment works on a value that is a 64-bit decimal integer (or no value); the sum must fit in 64 bits. Set the key to a number first, or use another key.' },
  KINDLING_ERR_KV_IO: { status: 500, hint: 'The key-value backend failed (disk full, a corrupt store file); the gateway log has the details. Retry, or check the data dir.' },
  KINDLING_ERR_KV_STORE_NOT_FOUND: { status: 404, hint: 'No such store in this namespace: GET /system/kv/stores?namespace=NS lists them (a store is made when a function granted it first opens it).' },
  KINDLING_ERR_KV_INVALID_REQUEST: { status: 400, hint: 'Store names are lower-case letters, digits, "-" and "_" (at most 63), app and namespace names as for functions; keys are 1 to KINDLING_KV_MAX_KEY_BYTES bytes; limit is 1 to 1000.' },
  // outbound request size and egress proxy limits (issue 13 item 1, egress review)
  KINDLING_ERR_OUTBOUND_REQUEST_TOO_LARGE: { status: 413, hint: 'A function sent more than KINDLING_OUTBOUND_MAX_REQUEST_BYTES in one outbound request body (or into one CONNECT tunnel of a container); send less per request or ask the operator to raise the setting. Guest code -7 on the wasm tiers.' },
  KINDLING_ERR_OUTBOUND_BUSY: { status: 503, hint: 'A container function had 32 connections to its egress proxy open at once; close or reuse connections (keep-alive) and retry.' },
  KINDLING_ERR_INTERNAL: { status: 500, hint: 'kindling hit an internal error; the gateway log has the details.' },
} as const satisfies Record<string, { status: number; hint: string }>

export type ErrorCode = keyof typeof ERRORS

/** A code from the table (own keys only: "toString" is not a code). */
export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && Object.hasOwn(ERRORS, s)
}

/** How much of a function's stderr an error message carries: the end, where failures are reported. */
export const MESSAGE_STDERR_CHARS = 4096

/** The message of an error: what happened, the hint, then the function's stderr (its last part) if given. */
export function errorMessage(code: ErrorCode, detail?: string, stderr?: string): string {
  const hint = ERRORS[code].hint
  const text = detail ? `${detail}. ${hint}` : hint
  if (!stderr) return text
  const cut = stderr.length - MESSAGE_STDERR_CHARS
  return `${text}\n${cut > 0 ? `[${cut} characters of stderr cut]\n${stderr.slice(cut)}` : stderr}`
}

/** The body of every error kindling makes: JSON { code, status, message } and a newline. */
export function errorBody(code: ErrorCode, message: string): Buffer {
  return Buffer.from(JSON.stringify({ code, status: ERRORS[code].status, message }) + '\n')
}

/** The Content-Type of that body. */
export const ERROR_CONTENT_TYPE = 'application/json; charset=utf-8'

/** The response header that carries the code of an error kindling made. */
export const ERROR_HEADER = 'x-kindling-error'

/**
 * A call that failed inside its sandbox (trap, exit, timeout, memory limit, a dead worker): the
 * status from the table and the same JSON body the gateway sends for its own errors, so that a
 * caller (and an async callback) cannot tell where in kindling the error was made.
 */
export function failedResult(code: ErrorCode, detail: string, more: { stderr?: string; timings?: InvokeTimings } = {}): InvokeResult {
  return {
    status: ERRORS[code].status,
    headers: { 'content-type': ERROR_CONTENT_TYPE },
    body: errorBody(code, errorMessage(code, detail, more.stderr)),
    stderr: more.stderr,
    errorCode: code,
    timings: more.timings,
  }
}

/** An error kindling reports to a caller: a code from the table, its status, and a specific message. */
export class KindlingError extends Error {
  readonly code: ErrorCode
  readonly status: number

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = ERRORS[code]
    super(errorMessage(code, detail), options)
    this.name = 'KindlingError'
    this.code = code
    this.status = entry.status
  }

  toJSON(): { code: ErrorCode; status: number; message: string } {
    return { code: this.code, status: this.status, message: this.message }
  }
}

export function isKindlingError(e: unknown): e is KindlingError {
  return e instanceof KindlingError
}

/** Wraps anything thrown into a KindlingError, keeping codes that are already there. */
export function asKindlingError(e: unknown): KindlingError {
  if (e instanceof KindlingError) return e
  const message = e instanceof Error ? e.message : String(e)
  if (isStorageFullError(e)) return new KindlingError('KINDLING_ERR_STORAGE_FULL', message, { cause: e })
  return new KindlingError('KINDLING_ERR_INTERNAL', message, { cause: e })
}

/** A write that failed for lack of space: ENOSPC or EDQUOT from the file system, SQLITE_FULL from SQLite. */
export function isStorageFullError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL'
}
