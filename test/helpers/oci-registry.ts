// A real distribution registry (Debian's docker-registry) on a loopback port with its own storage
// dir, a small token server for the bearer flow, and a push helper (blob uploads + manifest PUT)
// with a ustar writer, so tests build images from busybox-static without docker or skopeo.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createHash, createPrivateKey, createSign, type KeyObject } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { freePort } from './free-port.js'

export const REGISTRY_BIN = '/usr/bin/docker-registry'

export function registrySkipReason(): string | undefined {
  if (!fs.existsSync(REGISTRY_BIN)) return 'docker-registry is not installed (apt-get install docker-registry)'
  return undefined
}


export interface RunningRegistry {
  /** "127.0.0.1:PORT" */
  host: string
  url: string
  storage: string
  stop(): Promise<void>
}

/** A bcrypt htpasswd line (the registry accepts bcrypt only) made with python3's crypt; undefined without it. */
export function htpasswdLine(user: string, password: string): string | undefined {
  try {
    const hash = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', password], { encoding: 'utf8' }).trim()
    return hash.startsWith('$2') ? `${user}:${hash}` : undefined
  } catch {
    return undefined
  }
}

export interface RegistryAuth {
  /** basic auth: htpasswd lines (bcrypt) */
  htpasswd?: string
  /** token auth: realm URL, service, and the PEM of the certificate that signs tokens */
  token?: { realm: string; service: string; issuer: string; certPem: string }
}

export async function startRegistry(auth: RegistryAuth = {}): Promise<RunningRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-reg-'))
  const port = await freePort()
  let authYaml = ''
  if (auth.htpasswd) {
    fs.writeFileSync(path.join(dir, 'htpasswd'), auth.htpasswd + '\n')
    authYaml = `auth:\n  htpasswd:\n    realm: kindling-test\n    path: ${path.join(dir, 'htpasswd')}\n`
  }
  if (auth.token) {
    fs.writeFileSync(path.join(dir, 'token.pem'), auth.token.certPem)
    authYaml = `auth:\n  token:\n    realm: ${auth.token.realm}\n    service: ${auth.token.service}\n    issuer: ${auth.token.issuer}\n    rootcertbundle: ${path.join(dir, 'token.pem')}\n`
  }
  const config = `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${authYaml}`
  fs.writeFileSync(path.join(dir, 'config.yml'), config)
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${url}/v2/`)
      await r.arrayBuffer()
      break
    } catch {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${err}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    storage: path.join(dir, 'data'),
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await gone
      }
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A token server as the registry's token auth expects: ES256 JWTs with the signing cert in x5c. */
export class TokenServer {
  readonly key: KeyObject
  readonly certPem: string
  private server: http.Server | undefined
  url = ''
  requests = 0

  constructor(
    readonly users: Record<string, string>,
    readonly service = 'kindling-test',
    readonly issuer = 'kindling-test-issuer',
  ) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-tok-'))
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=token'], { stdio: 'ignore' })
      this.certPem = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8')
      this.key = createPrivateKey(fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests++
      const u = new URL(req.url!, 'http://x')
      const authz = req.headers.authorization ?? ''
      const [user, pass] = Buffer.from(authz.replace(/^Basic /, ''), 'base64').toString().split(':')
      if (!user || this.users[user] !== pass) {
        res.writeHead(401).end('{"details":"bad credentials"}')
        return
      }
      const scope = u.searchParams.get('scope') ?? ''
      const [, repo, actions] = scope.split(':')
      const now = Math.floor(Date.now() / 1000)
      const token = this.sign({ iss: this.issuer, sub: user, aud: u.searchParams.get('service'), exp: now + 600, nbf: now - 10, iat: now, jti: String(Math.random()), access: repo ? [{ type: 'repository', name: repo, actions: (actions ?? 'pull').split(',') }] : [] })
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }))
    })
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r))
    this.url = `http://127.0.0.1:${(this.server!.address() as net.AddressInfo).port}/token`
  }

  sign(claims: object): string {
    const der = Buffer.from(this.certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
    const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
    const input = `${b64({ typ: 'JWT', alg: 'ES256', x5c: [der.toString('base64')] })}.${b64(claims)}`
    const sig = createSign('SHA256').update(input).sign({ key: this.key, dsaEncoding: 'ieee-p1363' })
    return `${input}.${sig.toString('base64url')}`
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r))
  }
}

// ---- tar writer ----------------------------------------------------------------------------

export interface TarEntry {
  name: string
  /** '0' file (default), '1' hard link, '2' symlink, '3' char device, '5' folder, '6' fifo */
  type?: '0' | '1' | '2' | '3' | '5' | '6'
  data?: Buffer | string
  linkname?: string
  mode?: number
}

function field(buf: Buffer, off: number, len: number, value: string): void {
  buf.write(value, off, Math.min(len, Buffer.byteLength(value)), 'utf8')
}

function num(buf: Buffer, off: number, len: number, n: number): void {
  field(buf, off, len, n.toString(8).padStart(len - 1, '0') + '\0')
}

/** A ustar archive (names up to 100 bytes; longer ones as GNU 'L' records). */
export function makeTar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = []
  const header = (name: string, type: string, size: number, mode: number, linkname: string): Buffer => {
    const h = Buffer.alloc(512)
    field(h, 0, 100, name)
    num(h, 100, 8, mode)
    num(h, 108, 8, 0)
    num(h, 116, 8, 0)
    num(h, 124, 12, size)
    num(h, 136, 12, 1_700_000_000)
    h.fill(0x20, 148, 156)
    h.write(type, 156, 1, 'latin1')
    field(h, 157, 100, linkname)
    h.write('ustar\x0000', 257, 8, 'latin1')
    let sum = 0
    for (const b of h) sum += b
    field(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ')
    return h
  }
  const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512)
  for (const e of entries) {
    const type = e.type ?? '0'
    const data = type === '0' ? Buffer.from(e.data ?? '') : Buffer.alloc(0)
    if (Buffer.byteLength(e.name) > 99) {
      const n = Buffer.from(e.name + '\0')
      blocks.push(header('././@LongLink', 'L', n.length, 0o644, ''), n, pad(n.length))
    }
    blocks.push(header(e.name.slice(0, 99), type, data.length, e.mode ?? (type === '5' ? 0o755 : 0o644), e.linkname ?? ''), data, pad(data.length))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

export function gzip(b: Buffer): Buffer {
  return zlib.gzipSync(b)
}

/** zstd with the zstd CLI (fzstd only decompresses); undefined when the CLI is absent. */
export function zstd(b: Buffer): Buffer | undefined {
  try {
    return execFileSync('zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 1 << 30 })
  } catch {
    return undefined
  }
}

export function digest(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`
}

// ---- push -----------------------------------------------------------------------------------

export class Pusher {
  constructor(
    readonly base: string,
    private readonly authorization?: string,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.authorization ? { authorization: this.authorization } : {}), ...extra }
  }

  async blob(repo: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
    const d = digest(bytes)
    const start = await fetch(`${this.base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: this.headers() })
    await start.arrayBuffer()
    if (start.status !== 202) throw new Error(`upload start: ${start.status}`)
    const loc = new URL(start.headers.get('location')!, this.base)
    loc.searchParams.set('digest', d)
    const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(bytes), headers: this.headers({ 'content-type': 'application/octet-stream' }) })
    const t = await put.text()
    if (put.status !== 201) throw new Error(`upload: ${put.status} ${t}`)
    return { digest: d, size: bytes.length }
  }

  async manifest(repo: string, tag: string, body: object, mediaType: string): Promise<{ digest: string; size: number }> {
    const bytes = Buffer.from(JSON.stringify(body))
    const r = await fetch(`${this.base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: new Uint8Array(bytes), headers: this.headers({ 'content-type': mediaType }) })
    const t = await r.text()
    if (r.status !== 201) throw new Error(`manifest put: ${r.status} ${t}`)
    return { digest: digest(bytes), size: bytes.length }
  }

  /** Pushes an image: layers (already compressed as wanted) and a config; returns the manifest descriptor. */
  async image(
    repo: string,
    tag: string,
    layers: { bytes: Buffer; uncompressed: Buffer; mediaType: string }[],
    config: object,
    platform = { os: 'linux', architecture: 'amd64' },
  ): Promise<{ digest: string; size: number; mediaType: string; platform: object }> {
    const cfg = Buffer.from(JSON.stringify({ ...platform, ...config, rootfs: { type: 'layers', diff_ids: layers.map((l) => digest(l.uncompressed)) } }))
    const c = await this.blob(repo, cfg)
    const ls = []
    for (const l of layers) ls.push({ mediaType: l.mediaType, ...(await this.blob(repo, l.bytes)) })
    const mediaType = 'application/vnd.oci.image.manifest.v1+json'
    const m = await this.manifest(repo, tag, { schemaVersion: 2, mediaType, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c }, layers: ls }, mediaType)
    return { ...m, mediaType, platform }
  }

  async index(repo: string, tag: string, manifests: object[]): Promise<{ digest: string }> {
    const mediaType = 'application/vnd.oci.image.index.v1+json'
    return this.manifest(repo, tag, { schemaVersion: 2, mediaType, manifests }, mediaType)
  }
}

export const LAYER = {
  tar: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
}
