// Closed-loop load from a separate process: autocannon (the baseline the issue names) and, when
// installed and asked for, wrk. Also starts the raw fastify baseline server.
import { execFile, fork } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { siblingModule } from '../../isolation/index.js'
import { track } from './children.js'

export interface LoadSpec {
  url: string
  method: string
  body?: string
  headers?: Record<string, string>
  connections: number
  durationS: number
  warmupS: number
  /** also record every 2xx response time (autocannon's own histogram keeps whole milliseconds) */
  exactLatency?: boolean
}

export interface LoadOutcome {
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  seconds: number
  /** 2xx responses per second */
  rps: number
  latencyMs: { p50: number; p99: number; mean: number; max: number }
  /** with exactLatency: nearest-rank percentiles of every 2xx response time, in microseconds */
  latencyUs?: { p50: number; p99: number; n: number }
  tool: 'autocannon' | 'wrk'
}

export function runAutocannon(spec: LoadSpec): Promise<LoadOutcome> {
  const entry = siblingModule(import.meta.url, 'load-main')
  return new Promise((resolve, reject) => {
    const child = track(fork(entry.path, [JSON.stringify(spec)], { execArgv: entry.execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }))
    let out = ''
    let err = ''
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop()
      if (code !== 0 || !line) return reject(new Error(`autocannon exited with ${code}: ${err.slice(-500)}`))
      resolve(JSON.parse(line) as LoadOutcome)
    })
  })
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

/** Milliseconds from wrk's "50%   1.23ms" style values. */
function wrkMs(v: string, unit: string): number {
  const n = Number(v)
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n
}

/** wrk with one thread; a Lua script sets method, body and headers. */
export function runWrk(spec: LoadSpec, workDir: string): Promise<LoadOutcome> {
  const script = path.join(workDir, `wrk-${process.pid}.lua`)
  const lua = [`wrk.method = ${JSON.stringify(spec.method)}`, `wrk.body = ${JSON.stringify(spec.body ?? '')}`]
  for (const [k, v] of Object.entries(spec.headers ?? {})) lua.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
  fs.writeFileSync(script, lua.join('\n') + '\n')
  const run = (seconds: number) =>
    new Promise<string>((resolve, reject) => {
      execFile('wrk', ['-t1', `-c${spec.connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '-s', script, spec.url], { timeout: (seconds + 30) * 1000 }, (e, stdout) => (e ? reject(e) : resolve(stdout)))
    })
  return (async () => {
    if (spec.warmupS > 0) await run(spec.warmupS)
    const text = await run(spec.durationS)
    const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN)
    const lat = (p: string) => {
      const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(text)
      return m ? wrkMs(m[1]!, m[2]!) : NaN
    }
    const total = num(/(\d+) requests in/)
    const non2xx = num(/Non-2xx or 3xx responses: (\d+)/) || 0
    const seconds = spec.durationS
    return { ok: total - non2xx, non2xx, errors: num(/Socket errors: connect (\d+)/) || 0, timeouts: num(/timeout (\d+)/) || 0, seconds, rps: (total - non2xx) / seconds, latencyMs: { p50: lat('50'), p99: lat('99'), mean: NaN, max: NaN }, tool: 'wrk' }
  })()
}

export interface RawServer {
  url: URL
  pid: number
  stop(): Promise<void>
}

export async function startRawFastify(): Promise<RawServer> {
  const entry = siblingModule(import.meta.url, 'fastify-main')
  const child = track(fork(entry.path, [], { execArgv: entry.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url))
    child.once('exit', (code) => reject(new Error(`the fastify baseline exited with ${code}`)))
  })
  return {
    url: new URL(url),
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await gone
    },
  }
}
