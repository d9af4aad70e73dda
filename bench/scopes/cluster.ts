// Scope `cluster` (issue 12 item 6): sync calls through a cluster gateway to 3, then 2, then 1
// worker(s) on a real nats-server, with the call passed over direct HTTP and over NATS request/reply
// (two gateway processes sharing the workers), beside the embedded single node (no NATS) running
// the same echo in the same run. Every node is its own process on this machine: they, nats-server
// and the load generator share its cores, so the worker count cannot add throughput here (2 cores
// bound it); the figures show the cost of the hop and of each transport, not cluster scaling.
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { track } from '../lib/children.js'
import { BENCH_FUNCTIONS, wasmPath } from '../lib/functions.js'
import { Gateway } from '../lib/gateway.js'
import { type LoadOutcome, runAutocannon } from '../lib/load.js'
import { emptyResult, type ScopeContext, type ScopeResult } from '../lib/scope.js'
import { median, prng, shuffled } from '../lib/stats.js'
import { freePort } from '../lib/free-port.js'

const BODY = 'hello'
const CONNECTIONS = [1, 32] as const
const TRANSPORTS = ['http', 'nats'] as const
type Case = 'embedded' | (typeof TRANSPORTS)[number]

async function startNats(dir: string): Promise<{ url: string; stop(): Promise<void> } | string> {
  const port = await freePort()
  fs.mkdirSync(dir, { recursive: true })
  let out = ''
  let child
  try {
    child = track(spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: ['ignore', 'pipe', 'pipe'] }), 'SIGTERM')
  } catch (e) {
    return (e as Error).message
  }
  const c = child
  const ready = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(`nats-server did not start:\n${out}`), 15_000)
    const check = (d: Buffer) => {
      out += d
      if (/Server is ready/.test(out)) {
        clearTimeout(timer)
        resolve(undefined)
      }
    }
    c.stdout!.on('data', check)
    c.stderr!.on('data', check)
    c.once('error', (e) => resolve(`nats-server: ${e.message} (apt-get install nats-server)`))
    c.once('exit', (code) => resolve(`nats-server exited with ${code}:\n${out}`))
  })
  if (ready) return ready
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (c.exitCode !== null || c.signalCode !== null) return
      const gone = new Promise((r) => c.once('exit', r))
      c.kill('SIGTERM')
      await gone
    },
  }
}

/** The nodes a burst of calls ran on (x-kindling-node), or why the check failed. */
async function check(url: string): Promise<{ nodes: Set<string> } | string> {
  const nodes = new Set<string>()
  for (let i = 0; i < 4; i++) {
    const res = await Promise.all(Array.from({ length: 8 }, () => fetch(url, { method: 'POST', body: BODY, headers: { 'content-type': 'text/plain' } })))
    for (const r of res) {
      const text = await r.text()
      if (r.status !== 200 || text !== BODY) return `answered ${r.status}: ${text.slice(0, 200)}`
      const n = r.headers.get('x-kindling-node')
      if (n) nodes.add(n)
    }
  }
  return { nodes }
}

export async function run(ctx: ScopeContext): Promise<ScopeResult> {
  const result = emptyResult('cluster', 'ok')
  const quick = ctx.quick
  const durationS = Number(ctx.options['duration'] ?? (quick ? 1 : 5))
  const warmupS = Number(ctx.options['warmup'] ?? (quick ? 0.3 : 1))
  const rounds = Number(ctx.options['rounds'] ?? (quick ? 1 : 3))
  const echo = fs.readFileSync(wasmPath(ctx.repoRoot, BENCH_FUNCTIONS.find((f) => f.name === 'echo')!))

  ctx.progress.step('starting nats-server')
  const nats = await startNats(path.join(ctx.workDir, 'nats'))
  if (typeof nats === 'string') return { ...result, status: 'skipped', reason: nats }
  const keyFile = path.join(ctx.workDir, 'cluster.key')
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'), { mode: 0o600 })
  const cluster = { natsUrl: nats.url, clusterKeyFile: keyFile, spareAppHosts: 0 }
  const nodes: Gateway[] = []
  try {
    ctx.progress.step('starting the embedded node, 3 workers and 2 gateways (http, nats)')
    const embedded = await Gateway.start(path.join(ctx.workDir, 'embedded'), { spareAppHosts: 0 })
    nodes.push(embedded)
    const workers: Gateway[] = []
    for (let i = 0; i < 3; i++) {
      const w = await Gateway.start(path.join(ctx.workDir, `worker${i}`), { ...cluster, role: 'worker' })
      workers.push(w)
      nodes.push(w)
    }
    const gateways = new Map<Case, Gateway>([['embedded', embedded]])
    for (const t of TRANSPORTS) {
      const g = await Gateway.start(path.join(ctx.workDir, `gateway-${t}`), { ...cluster, role: 'gateway', clusterTransport: t })
      gateways.set(t, g)
      nodes.push(g)
    }
    // the embedded node, and the cluster through one of its gateways (the cluster's state takes it to every node)
    for (const n of [embedded, gateways.get('http')!]) await n.deploy('echo', { wasm: echo, labels: { 'com.kindling.isolation': 'wasm' } })
    const urlOf = (c: Case) => new URL('/function/echo', gateways.get(c)!.url).href

    const outcomes = new Map<string, LoadOutcome>()
    const rand = prng(12)
    // quick mode (CI, under a minute): 3 workers and 1, not 2
    const steps = quick ? [3, 1] : [3, 2, 1]
    for (const n of steps) {
      while (workers.length > n) {
        // a worker that stops leaves the membership at once (its record is deleted)
        await workers.pop()!.stop()
      }
      for (const t of TRANSPORTS) {
        let seen = 0
        // bounded: until the function is on every worker and calls reach them all
        for (let i = 0; i < 100; i++) {
          const c = await check(urlOf(t))
          if (typeof c === 'string' && i === 99) throw new Error(`${t} gateway, ${n} worker(s): the check request ${c}`)
          seen = typeof c === 'string' ? 0 : c.nodes.size
          if (seen === n) break
          await new Promise((r) => setTimeout(r, 200))
        }
        if (seen !== n) result.notes.push(`${t} gateway, ${n} worker(s): calls reached ${seen} worker(s)`)
      }
      const runs = (['embedded', ...TRANSPORTS] as Case[]).flatMap((c) => CONNECTIONS.map((connections) => ({ c, connections })))
      for (let round = 0; round < rounds; round++) {
        for (const { c, connections } of shuffled(runs, rand)) {
          ctx.progress.step(`${n} worker(s), round ${round + 1}/${rounds}: ${c}, ${connections} conn, ${durationS} s`)
          const o = await runAutocannon({ url: urlOf(c), method: 'POST', body: BODY, headers: { 'content-type': 'text/plain' }, connections, durationS, warmupS, exactLatency: true })
          outcomes.set(`${n}|${c}|${connections}|${round}`, o)
          if (o.non2xx || o.errors) result.notes.push(`${n} worker(s), ${c}, ${connections} conn, round ${round + 1}: ${o.non2xx} non-2xx, ${o.errors} errors`)
        }
      }
    }

    const lat = (o: LoadOutcome) => o.latencyUs ?? { p50: o.latencyMs.p50 * 1000, p99: o.latencyMs.p99 * 1000 }
    const of = (n: number, c: Case, conns: number) => [...Array(rounds).keys()].flatMap((r) => outcomes.get(`${n}|${c}|${conns}|${r}`) ?? [])
    const med = (os: LoadOutcome[], f: (o: LoadOutcome) => number) => (os.length ? median(os.map(f)) : NaN)
    for (const n of [1, 2, 3]) {
      for (const c of ['embedded', ...TRANSPORTS] as Case[]) {
        const group = c === 'embedded' ? `embedded single node (beside ${n} worker(s))` : `${n} worker(s), ${c} transport`
        for (const conns of CONNECTIONS) {
          const os = of(n, c, conns)
          if (!os.length) continue
          result.rows.push(
            { group, name: `${conns} conn: throughput`, unit: 'req/s', n: os.length, p50: med(os, (o) => o.rps), min: Math.min(...os.map((o) => o.rps)), max: Math.max(...os.map((o) => o.rps)) },
            { group, name: `${conns} conn: latency`, unit: 'us', n: os.length, p50: med(os, (o) => lat(o).p50), p99: med(os, (o) => lat(o).p99) },
          )
        }
      }
    }
    // the hop: the same echo, the same run, one worker against the embedded node
    for (const t of TRANSPORTS) {
      for (const conns of CONNECTIONS) {
        const hop = med(of(1, t, conns), (o) => lat(o).p50) - med(of(1, 'embedded', conns), (o) => lat(o).p50)
        const hop99 = med(of(1, t, conns), (o) => lat(o).p99) - med(of(1, 'embedded', conns), (o) => lat(o).p99)
        result.rows.push({ group: 'cluster hop (1 worker minus embedded)', name: `${t}, ${conns} conn: added latency`, unit: 'us', n: rounds, p50: hop, p99: hop99 })
      }
    }
    result.notes.unshift(
      `each node is its own process (bench/lib/gateway-main): the embedded node without NATS, 3 workers (role worker), a gateway passing calls over HTTP and one over NATS (role gateway), one nats-server; workers stop between steps (3, 2, then 1 worker; quick: 3 then 1); the echo is the AssemblyScript echo on the wasm tier, POST "${BODY}"`,
      `autocannon ${durationS} s per run after ${warmupS} s of warm-up, ${rounds} round(s), cases shuffled per round; rows are medians over rounds; latency: nearest-rank p50 / p99 of every 2xx response time`,
      'this machine has 2 cores shared by every process here (and the load generator): more workers cannot add throughput, they add processes competing for the same cores; the rows measure the hop and the transports, not scaling',
    )
    result.data = { durationS, warmupS, rounds, outcomes: Object.fromEntries(outcomes) }
  } finally {
    for (const n of nodes.reverse()) await n.stop().catch(() => {})
    await nats.stop()
  }
  return result
}
