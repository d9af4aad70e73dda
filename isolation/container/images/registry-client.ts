// A client of the OCI distribution API (registry v2) for pulls: where a registry is (mirrors,
// HTTPS unless listed as insecure), who we are there (docker config.json credentials), the 401
// dance (basic, or a bearer token from the realm the registry names), bounded reads and timeouts.
// The registry is untrusted: every body has a size cap, redirects drop credentials when they
// leave the origin, and an HTTPS registry cannot send us to plain HTTP.
import { Buffer } from 'node:buffer'
import { KindlingError } from '../../errors.js'
import type { ImageReference } from './reference.js'

export interface RegistrySettings {
  /** registry host -> mirror base URL ("docker.io" -> "http://127.0.0.1:5000") */
  mirrors: Record<string, string>
  /** host:port (or host) allowed over plain HTTP */
  insecure: string[]
  /** time without progress after which a request fails */
  timeoutMs: number
  maxManifestBytes: number
  maxLayerBytes: number
  maxUnpackedBytes: number
}

export interface Credentials {
  username: string
  password: string
}

/** Looks a registry host up in a docker config.json ({"auths": {"host": {"auth": base64}}}). */
export function credentialsFor(configJson: string | Buffer | undefined, host: string): Credentials | undefined {
  if (!configJson) return undefined
  let parsed: { auths?: Record<string, { auth?: string; username?: string; password?: string }> }
  try {
    parsed = JSON.parse(configJson.toString()) as typeof parsed
  } catch {
    throw new KindlingError('KINDLING_ERR_INVALID_FIELD', 'registry credentials are not a docker config.json (JSON with an "auths" object)')
  }
  const want = hostAliases(host)
  for (const [key, entry] of Object.entries(parsed.auths ?? {})) {
    if (!want.has(keyHost(key))) continue
    if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password }
    if (entry.auth) {
      const s = Buffer.from(entry.auth, 'base64').toString('utf8')
      const i = s.indexOf(':')
      if (i > 0) return { username: s.slice(0, i), password: s.slice(i + 1) }
    }
  }
  return undefined
}

function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase()
}

function hostAliases(host: string): Set<string> {
  const h = host.toLowerCase()
  if (h === 'docker.io' || h === 'index.docker.io' || h === 'registry-1.docker.io') return new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io'])
  return new Set([h])
}

/** Where to pull a reference from: its mirror, or the registry itself (HTTPS unless insecure). */
export function endpointFor(ref: ImageReference, s: RegistrySettings): { base: URL; host: string; mirror: boolean } {
  const mirror = s.mirrors[ref.domain] ?? (ref.domain === 'docker.io' ? s.mirrors['index.docker.io'] : undefined)
  if (mirror) {
    const base = new URL(mirror.endsWith('/') ? mirror : `${mirror}/`)
    return { base, host: base.host, mirror: true }
  }
  const host = ref.domain === 'docker.io' ? 'registry-1.docker.io' : ref.domain
  const scheme = isInsecure(host, s) ? 'http' : 'https'
  return { base: new URL(`${scheme}://${host}/`), host: ref.domain, mirror: false }
}

function isInsecure(host: string, s: RegistrySettings): boolean {
  const h = host.toLowerCase()
  return s.insecure.some((i) => i.toLowerCase() === h || i.toLowerCase() === h.replace(/:\d+$/, ''))
}

export function registryError(code: string, message: string): KindlingError {
  return new KindlingError(code as 'KINDLING_ERR_INTERNAL', message)
}

export interface BlobResponse {
  status: number
  headers: Headers
  body: ReadableStream<Uint8Array> | null
  url: string
  /** restarts the no-progress timer (call per chunk read) */
  touch(): void
  /** stops the timer once the body is read */
  done(): void
}

interface Timed {
  res: Response
  touch(): void
  done(): void
}

/** One repository on one registry, with the token it earned. */
export class RegistrySession {
  private authorization: string | undefined
  readonly what: string

  constructor(
    readonly base: URL,
    readonly repo: string,
    private readonly creds: Credentials | undefined,
    private readonly s: RegistrySettings,
    private readonly onLog: (text: string) => void = () => {},
  ) {
    this.what = `${base.host}/${repo}`
  }

  /** GET with auth, manual redirects and a connect/headers timeout; the caller reads the body. */
  async get(pathPart: string, accept?: string): Promise<BlobResponse> {
    let url = new URL(`v2/${this.repo}/${pathPart}`, this.base)
    let auth = this.authorization
    let retried = false
    for (let hop = 0; hop < 6; hop++) {
      // identity: fetch would inflate a gzip Content-Encoding itself, and the digest is of the bytes as stored
      const headers: Record<string, string> = { 'user-agent': 'kindling', 'accept-encoding': 'identity' }
      if (accept) headers['accept'] = accept
      if (auth && url.origin === this.base.origin) headers['authorization'] = auth
      const t = await this.fetchWithTimeout(url, headers)
      const res = t.res
      if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
        await res.body?.cancel().catch(() => {})
        t.done()
        const next = new URL(res.headers.get('location')!, url)
        if (next.protocol !== 'https:' && next.protocol !== 'http:') throw registryError('KINDLING_ERR_REGISTRY_UNREACHABLE', `${this.what} redirected to ${next.protocol} URL`)
        if (url.protocol === 'https:' && next.protocol === 'http:' && !isInsecure(next.host, this.s)) {
          throw registryError('KINDLING_ERR_REGISTRY_UNREACHABLE', `${this.what} redirected from HTTPS to plain HTTP (${next.host}); list it in KINDLING_INSECURE_REGISTRIES if that is meant`)
        }
        url = next
        continue
      }
      if (res.status === 401 && !retried && url.origin === this.base.origin) {
        retried = true
        const challenge = res.headers.get('www-authenticate') ?? ''
        await res.body?.cancel().catch(() => {})
        t.done()
        auth = await this.answer(challenge)
        this.authorization = auth
        hop--
        continue
      }
      return { status: res.status, headers: res.headers, body: res.body, url: url.toString(), touch: t.touch, done: t.done }
    }
    throw registryError('KINDLING_ERR_REGISTRY_UNREACHABLE', `${this.what}: too many redirects`)
  }

  /** A fetch that fails after timeoutMs without progress (connect, headers, or between body chunks). */
  private async fetchWithTimeout(url: URL, headers: Record<string, string>): Promise<Timed> {
    const ac = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const touch = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => ac.abort(new DOMException('stalled', 'TimeoutError')), this.s.timeoutMs)
      timer.unref()
    }
    const done = (): void => clearTimeout(timer)
    touch()
    try {
      const res = await fetch(url, { headers, redirect: 'manual', signal: ac.signal })
      touch()
      return { res, touch, done }
    } catch (e) {
      done()
      const err = e as Error & { cause?: { code?: string; message?: string } }
      const why = err.name === 'TimeoutError' || ac.signal.aborted ? `no answer within ${this.s.timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message)
      const hint = url.protocol === 'https:' && /EPROTO|SSL|TLS|wrong version/i.test(String(err.cause?.message ?? err.cause?.code ?? '')) ? ' (a plain-HTTP registry must be listed in KINDLING_INSECURE_REGISTRIES)' : ''
      throw registryError('KINDLING_ERR_REGISTRY_UNREACHABLE', `registry ${url.host} cannot be reached: ${why}${hint}`)
    }
  }

  /** Works out the Authorization header a 401's challenge asks for. */
  private async answer(challenge: string): Promise<string> {
    const scheme = challenge.split(/\s+/)[0]?.toLowerCase()
    const params: Record<string, string> = {}
    for (const m of challenge.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!
    const basic = this.creds ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}` : undefined
    if (scheme === 'basic') {
      if (!basic) throw authRefused(this.what, 'it asks for a user name and password and none is configured for it')
      return basic
    }
    if (scheme !== 'bearer' || !params['realm']) throw authRefused(this.what, `it answered 401 with an authentication scheme kindling does not speak (${challenge || 'none'})`)
    let realm: URL
    try {
      realm = new URL(params['realm'])
    } catch {
      throw authRefused(this.what, `its token realm "${params['realm']}" is not a URL`)
    }
    // credentials travel to the realm: never in clear text unless the registry itself is plain HTTP
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && (this.base.protocol === 'http:' || isInsecure(realm.host, this.s)))) {
      throw authRefused(this.what, `its token realm ${realm.origin} is not HTTPS`)
    }
    if (params['service']) realm.searchParams.set('service', params['service'])
    realm.searchParams.set('scope', params['scope'] ?? `repository:${this.repo}:pull`)
    const headers: Record<string, string> = { 'user-agent': 'kindling' }
    if (basic) headers['authorization'] = basic
    const t = await this.fetchWithTimeout(realm, headers)
    const res = t.res
    const text = await readCapped({ body: res.body, touch: t.touch, done: t.done }, 1024 * 1024, `token from ${realm.host}`)
    if (res.status === 401 || res.status === 403) throw authRefused(this.what, `its token service ${realm.host} refused the credentials (${res.status})`)
    if (res.status !== 200) throw authRefused(this.what, `its token service ${realm.host} answered ${res.status}`)
    let token: string | undefined
    try {
      const j = JSON.parse(text.toString()) as { token?: string; access_token?: string }
      token = j.token ?? j.access_token
    } catch {
      token = undefined
    }
    if (!token) throw authRefused(this.what, `its token service ${realm.host} sent no token`)
    this.onLog(`got a pull token for ${this.what} from ${realm.host}`)
    return `Bearer ${token}`
  }
}

function authRefused(what: string, why: string): KindlingError {
  return registryError('KINDLING_ERR_REGISTRY_AUTH', `registry ${what} refused the pull: ${why}`)
}

/** Reads a whole body, failing once it passes `cap` bytes. */
export async function readCapped(r: Pick<BlobResponse, 'body' | 'touch' | 'done'>, cap: number, what: string): Promise<Buffer> {
  const body = r.body
  if (!body) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  let n = 0
  try {
    for await (const c of streamChunks(r, what)) {
      n += c.length
    if (n > cap) {
        throw registryError('KINDLING_ERR_IMAGE_TOO_LARGE', `${what} is larger than ${cap} bytes (KINDLING_IMAGE_MAX_MANIFEST_BYTES)`)
      }
      chunks.push(Buffer.from(c))
    }
  } finally {
    r.done()
  }
  return Buffer.concat(chunks)
}

/** The body's chunks, restarting the no-progress timer on each; a stall or reset is "unreachable". */
export async function* streamChunks(r: Pick<BlobResponse, 'body' | 'touch'>, what: string): AsyncGenerator<Uint8Array> {
  if (!r.body) return
  const reader = r.body.getReader()
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>
      try {
        next = await reader.read()
      } catch (e) {
        const err = e as Error
        throw registryError('KINDLING_ERR_REGISTRY_UNREACHABLE', `${what}: the registry stopped sending (${err.name === 'TimeoutError' || err.name === 'AbortError' ? 'no progress within the timeout' : err.message})`)
      }
      if (next.done) return
      r.touch()
      yield next.value
    }
  } finally {
    reader.releaseLock()
    await r.body.cancel().catch(() => {})
  }
}
