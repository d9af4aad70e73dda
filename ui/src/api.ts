// Calls the gateway from the browser. The credentials live in this module's memory only (not in
// storage a function's page on the same origin could read), so a reload asks for them again.
// Requests go with credentials: 'omit' and an explicit Authorization header: the browser then
// never caches them nor shows its own login dialog on a 401.

export interface Session {
  user: string
  authorization: string
  namespace: string
}

let session: Session | undefined

export function currentSession(): Session | undefined {
  return session
}

export function logout(): void {
  session = undefined
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

function basic(user: string, password: string): string {
  // btoa takes Latin-1: encode UTF-8 first, as the gateway compares bytes
  const bytes = new TextEncoder().encode(`${user}:${password}`)
  return `Basic ${btoa(String.fromCharCode(...bytes))}`
}

/** Checks the credentials against the gateway; keeps them when they are right. */
export async function login(user: string, password: string): Promise<void> {
  const authorization = basic(user, password)
  await request('GET', '/system/info', undefined, authorization)
  session = { user, authorization, namespace: '' }
}

async function request(method: string, url: string, body: BodyInit | undefined, authorization: string, contentType?: string, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { authorization }
  if (contentType) headers['content-type'] = contentType
  const res = await fetch(url, { method, headers, body, credentials: 'omit', cache: 'no-store', signal })
  if (!res.ok) {
    let code = `HTTP ${res.status}`
    let message = res.statusText
    try {
      const e = (await res.json()) as { code?: string; message?: string }
      code = e.code ?? code
      message = e.message ?? message
    } catch {
      // not the gateway's error shape
    }
    throw new ApiError(res.status, code, message)
  }
  return res
}

function auth(): string {
  if (!session) throw new ApiError(401, 'KINDLING_ERR_UNAUTHORIZED', 'not logged in')
  return session.authorization
}

export async function getJson<T>(url: string): Promise<T> {
  return (await (await request('GET', url, undefined, auth())).json()) as T
}

export async function sendJson<T = unknown>(method: string, url: string, body: unknown): Promise<T | undefined> {
  const res = await request(method, url, JSON.stringify(body), auth(), 'application/json')
  const t = await res.text()
  return t ? (JSON.parse(t) as T) : undefined
}

export async function upload(bytes: ArrayBuffer): Promise<{ image: string; digest: string; format: string; size: number }> {
  return (await (await request('POST', '/system/artifacts', bytes, auth(), 'application/wasm')).json()) as { image: string; digest: string; format: string; size: number }
}

/** A streamed GET (NDJSON logs); the caller reads the body and aborts to stop. */
export async function stream(url: string, signal: AbortSignal): Promise<Response> {
  return request('GET', url, undefined, auth(), undefined, signal)
}

/** ?namespace=... for the current namespace (empty: the gateway's default) */
export function nsQuery(prefix = '?'): string {
  return session?.namespace ? `${prefix}namespace=${encodeURIComponent(session.namespace)}` : ''
}

/** What the dashboard knows of a function (GET /system/functions). */
export interface FunctionStatus {
  name: string
  image: string
  namespace: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  envVars?: Record<string, string>
  replicas: number
  availableReplicas: number
  invocationCount: number
  createdAt: string
  [k: string]: unknown
}

export interface FunctionStats {
  name: string
  namespace: string
  invocations: number
  series: { start: number; slotMs: number; calls: number[]; errors: number[]; p50Ms: (number | null)[]; p99Ms: (number | null)[] }
  coldStarts: { at: string; tier: string; criticalPath: boolean; spawnMs: number; instantiateMs: number }[]
  prepare: { at: string; tier: string; ms: number } | null
}
