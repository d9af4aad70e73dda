// workerd (Cloudflare's Workers runtime) as a peer for the `peers` scope. Its npm package carries a
// ~150 MB binary, so it is not a dependency: it is installed on demand into a cache folder and
// reused from there. Also the Cap'n Proto config and the worker sources it serves.
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { track } from './children.js'

/** Pinned so that runs compare the same peer (bump it on purpose, with a new full run). */
export const WORKERD_VERSION = '1.20261123.1'

export function defaultWorkerdCache(): string {
  return path.join(os.homedir(), '.cache', 'kindling', 'workerd')
}

function binaryIn(cacheDir: string): string {
  return path.join(cacheDir, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd')
}

function installedVersion(cacheDir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(cacheDir, 'node_modules', '@cloudflare', 'workerd-linux-64', 'package.json'), 'utf8')) as { version?: string }).version
  } catch {
    return undefined
  }
}

export type WorkerdInstall = { ok: true; binary: string; installed: boolean; seconds: number } | { ok: false; reason: string }

/**
 * The workerd binary of WORKERD_VERSION in `cacheDir`, installed there with npm when missing.
 * Never throws: a failed install (offline, another platform) is a reason to skip the peer rows.
 */
export async function ensureWorkerd(cacheDir: string, version = WORKERD_VERSION, timeoutMs = 120_000): Promise<WorkerdInstall> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { ok: false, reason: `workerd's npm binary for ${process.platform}-${process.arch} is not wired up here (linux-x64 only)` }
  const binary = binaryIn(cacheDir)
  const started = Date.now()
  if (installedVersion(cacheDir) === version && fs.existsSync(binary)) return { ok: true, binary, installed: false, seconds: 0 }
  try {
    fs.mkdirSync(cacheDir, { recursive: true })
  } catch (e) {
    return { ok: false, reason: `cannot create ${cacheDir}: ${(e as Error).message}` }
  }
  // the binary comes in the optional dependency; workerd's own postinstall only checks it
  const args = ['install', '--prefix', cacheDir, `workerd@${version}`, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts']
  const err = await new Promise<string | undefined>((resolve) => {
    execFile('npm', args, { timeout: timeoutMs, cwd: cacheDir }, (e, _out, stderr) => resolve(e ? `${e.message.split('\n')[0]} ${String(stderr).trim().split('\n').slice(-2).join(' ')}` : undefined))
  })
  if (err) return { ok: false, reason: `npm install workerd@${version} failed: ${err.slice(0, 300)}` }
  if (installedVersion(cacheDir) !== version || !fs.existsSync(binary)) return { ok: false, reason: `npm install workerd@${version} did not leave ${binary}` }
  return { ok: true, binary, installed: true, seconds: (Date.now() - started) / 1000 }
}

export interface WorkerdModule {
  /** the name the worker imports it by, also the file name next to the config */
  name: string
  kind: 'esModule' | 'wasm'
}

export interface WorkerdService {
  name: string
  /** loopback port of its HTTP socket */
  port: number
  /** the first module is the worker's entry point */
  modules: WorkerdModule[]
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/** A workerd config (Cap'n Proto text): one worker and one loopback HTTP socket per service. */
export function workerdConfig(services: readonly WorkerdService[], compatibilityDate = '2024-09-01'): string {
  if (!services.length) throw new Error('workerdConfig: no services')
  for (const s of services) {
    if (!SAFE_NAME.test(s.name) || !s.modules.length || s.modules.some((m) => !SAFE_NAME.test(m.name))) throw new Error(`workerdConfig: bad service ${JSON.stringify(s)}`)
    if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) throw new Error(`workerdConfig: bad port ${s.port}`)
    if (s.modules[0]!.kind !== 'esModule') throw new Error(`workerdConfig: ${s.name}'s entry point must be an ES module`)
  }
  // Cap'n Proto wants camelCase declaration names
  const id = (s: WorkerdService) => `worker${services.indexOf(s)}`
  const lines = [
    'using Workerd = import "/workerd/workerd.capnp";',
    'const config :Workerd.Config = (',
    `  services = [ ${services.map((s) => `(name = "${s.name}", worker = .${id(s)})`).join(', ')} ],`,
    `  sockets = [ ${services.map((s) => `(name = "${s.name}-http", address = "127.0.0.1:${s.port}", http = (), service = "${s.name}")`).join(', ')} ]`,
    ');',
  ]
  for (const s of services) {
    lines.push(
      `const ${id(s)} :Workerd.Worker = (`,
      `  modules = [ ${s.modules.map((m) => `(name = "${m.name}", ${m.kind} = embed "${m.name}")`).join(', ')} ],`,
      `  compatibilityDate = "${compatibilityDate}",`,
      ');',
    )
  }
  return lines.join('\n') + '\n'
}

/** The echo: answers the request body, as text/plain (what kindling's echo and the node:http floor do). */
export const ECHO_WORKER = `export default {
  async fetch(request) {
    return new Response(await request.arrayBuffer(), { headers: { 'content-type': 'text/plain' } })
  },
}
`

/**
 * The sha256 kernel (functions/c/sha256-64k.c built for WASI) in a worker: a new instance per
 * request (fresh state, as kindling's default gives), body on stdin, stdout answered; the smallest
 * WASI the module imports, written here since workerd has none built in.
 */
export function shaWorker(wasmName: string): string {
  return `import mod from './${wasmName}'
const ENOSYS = 52, ESPIPE = 70
class Exit { constructor(code) { this.code = code } }
function run(stdin) {
  let memory, pos = 0
  const out = []
  const view = () => new DataView(memory.buffer)
  const known = {
    fd_read(fd, iovs, n, nread) {
      const v = view(), bytes = new Uint8Array(memory.buffer)
      let total = 0
      for (let i = 0; i < n; i++) {
        const ptr = v.getUint32(iovs + i * 8, true), len = v.getUint32(iovs + i * 8 + 4, true)
        const k = Math.min(len, stdin.length - pos)
        bytes.set(stdin.subarray(pos, pos + k), ptr)
        pos += k; total += k
        if (k < len) break
      }
      v.setUint32(nread, total, true)
      return 0
    },
    fd_write(fd, iovs, n, nwritten) {
      const v = view()
      let total = 0
      for (let i = 0; i < n; i++) {
        const ptr = v.getUint32(iovs + i * 8, true), len = v.getUint32(iovs + i * 8 + 4, true)
        out.push(new Uint8Array(memory.buffer, ptr, len).slice())
        total += len
      }
      v.setUint32(nwritten, total, true)
      return 0
    },
    fd_fdstat_get(fd, ptr) {
      const v = view()
      v.setUint8(ptr, 2); v.setUint16(ptr + 2, 0, true)
      v.setBigUint64(ptr + 8, 0xffffffffn, true); v.setBigUint64(ptr + 16, 0xffffffffn, true)
      return 0
    },
    fd_seek: () => ESPIPE,
    fd_close: () => 0,
    proc_exit(code) { throw new Exit(code) },
  }
  const wasi = {}
  for (const imp of WebAssembly.Module.imports(mod)) if (imp.module === 'wasi_snapshot_preview1') wasi[imp.name] = known[imp.name] ?? (() => ENOSYS)
  const instance = new WebAssembly.Instance(mod, { wasi_snapshot_preview1: wasi })
  memory = instance.exports.memory
  try { instance.exports._start() } catch (e) { if (!(e instanceof Exit) || e.code !== 0) throw e }
  const body = new Uint8Array(out.reduce((s, b) => s + b.length, 0))
  let at = 0
  for (const b of out) { body.set(b, at); at += b.length }
  return body
}
export default {
  async fetch(request) {
    return new Response(run(new Uint8Array(await request.arrayBuffer())), { headers: { 'content-type': 'text/plain' } })
  },
}
`
}


export interface WorkerdServer {
  pid: number
  /** base URL per service name */
  urls: Record<string, URL>
  stop(): Promise<void>
}

/**
 * Writes the config and the files it embeds into `dir` and starts `workerd serve`; resolves once
 * every socket answers. `files` maps module names to their bytes or source.
 */
export async function startWorkerd(binary: string, dir: string, services: readonly WorkerdService[], files: Record<string, string | Uint8Array>, timeoutMs = 30_000): Promise<WorkerdServer> {
  fs.mkdirSync(dir, { recursive: true })
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data)
  const config = path.join(dir, 'config.capnp')
  fs.writeFileSync(config, workerdConfig(services))
  const child = track(spawn(binary, ['serve', config], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }))
  let stderr = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (s: string) => (stderr = (stderr + s).slice(-4000)))
  const exited = new Promise<never>((_r, reject) => child.once('exit', (code, sig) => reject(new Error(`workerd exited (${code ?? sig}): ${stderr.trim()}`))))
  exited.catch(() => {})
  const urls = Object.fromEntries(services.map((s) => [s.name, new URL(`http://127.0.0.1:${s.port}/`)]))
  const deadline = Date.now() + timeoutMs
  for (const url of Object.values(urls)) {
    for (;;) {
      const up = await Promise.race([
        fetch(url, { method: 'POST', body: '' }).then((r) => r.arrayBuffer().then(() => true), () => false),
        exited,
      ])
      if (up) break
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`workerd did not answer on ${url.href} in ${timeoutMs / 1000} s: ${stderr.trim()}`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return {
    pid: child.pid!,
    urls,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    },
  }
}
