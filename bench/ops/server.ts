// `kindling serve` in a child process on a temporary data dir, as a user runs it, with a keep-alive
// HTTP client for the measurements (the client never shares an event loop with the gateway).
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { REPO_ROOT } from '../../runtime/index.js'

export interface Served {
  url: URL
  auth: string
  dataDir: string
  child: ChildProcess
  request(method: string, p: string, opts?: { body?: Buffer | string; headers?: Record<string, string> }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>
  system(method: string, p: string, json?: unknown): Promise<{ status: number; body: Buffer; json<T>(): T }>
  stop(): Promise<void>
}

/** KINDLING_BENCH_NODE_ARGS adds node flags to the gateway process (for example --cpu-prof). */
export async function serve(env: Record<string, string> = {}, agentSockets = 64): Promise<Served> {
  const extra = (process.env.KINDLING_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-ops-bench-'))
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', path.join(REPO_ROOT, 'runtime', 'cli', 'main.ts'), 'serve'], {
    env: { ...process.env, KINDLING_DATA_DIR: dataDir, KINDLING_PORT: '0', KINDLING_DEPLOY_EXAMPLES: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<void>((res) => child.once('exit', () => res()))
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kindling did not start:\n${out}`)), 60_000)
    child.stdout!.on('data', () => {
      const m = /kindling (http:\/\/\S+)/.exec(out)
      if (m && /\n {2}tiers: .*\n/.test(out)) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`kindling exited with ${code}:\n${out}`)))
  })
  const url = new URL(base)
  const password = fs.readFileSync(path.join(dataDir, 'secrets', 'basic-auth-password'), 'utf8').trim()
  const auth = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`
  const agent = new http.Agent({ keepAlive: true, maxSockets: agentSockets })

  const request: Served['request'] = (method, p, opts = {}) => new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body)
    const req = http.request({ host: url.hostname, port: url.port, path: p, method, agent, headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...opts.headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })

  return {
    url,
    auth,
    dataDir,
    child,
    request,
    async system(method, p, json) {
      const r = await request(method, p, { body: json === undefined ? undefined : JSON.stringify(json), headers: { authorization: auth, ...(json === undefined ? {} : { 'content-type': 'application/json' }) } })
      return { status: r.status, body: r.body, json: <T>() => JSON.parse(r.body.toString()) as T }
    },
    async stop() {
      agent.destroy()
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Uploads a module and deploys it (or deploys an image); throws with the gateway's answer. */
export async function deploy(s: Served, body: Record<string, unknown>, wasm?: Buffer): Promise<void> {
  if (wasm) {
    const up = await s.request('POST', '/system/artifacts', { body: wasm, headers: { authorization: s.auth, 'content-type': 'application/wasm' } })
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${up.body.toString()}`)
    body = { ...body, image: (JSON.parse(up.body.toString()) as { image: string }).image }
  }
  const r = await s.system('POST', '/system/functions', body)
  if (r.status !== 202) throw new Error(`deploy: ${r.status} ${r.body.toString()}`)
}
