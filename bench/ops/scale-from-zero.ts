// Latency of a call that arrives at a function scaled to zero, on every tier the gateway runs
// (GET /system/info), against warm calls to the same function in the same run.
//   node --import tsx bench/ops/scale-from-zero.ts [cycles=20]
// One cycle: POST /system/scale-function replicas=0, wait until availableReplicas is 0 and the
// sandboxes are gone, pause, then time one POST /function/<name> over HTTP (client to last byte).
// Two pauses per tier: 1 s ("after idle": a tier's own spare processes or threads have refilled,
// as they have when the idler scaled a function down) and 20 ms ("back to back": they may not).
import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '../../runtime/index.js'
import { environmentLine, environmentRecord } from '../lib/env.js'
import { percentile } from '../lib/stats.js'
import { deploy, serve, type Served } from './server.js'

interface TierInfo {
  name: string
  available: boolean
  reason?: string
  capabilities: { artifactKinds: string[] }
}

interface TierResult {
  tier: string
  skipped?: string
  warm?: { n: number; p50Ms: number; p99Ms: number }
  fromZero?: { n: number; p50Ms: number; p99Ms: number; maxMs: number }
  backToBack?: { n: number; p50Ms: number; p99Ms: number; maxMs: number }
}

const cycles = Number(process.argv[2] ?? 20)
const IDLE_PAUSE_MS = 1000
const SHORT_PAUSE_MS = 20
const WARM_CALLS = 200
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

async function timedCall(s: Served, name: string, body: Buffer): Promise<number> {
  const t0 = process.hrtime.bigint()
  const r = await s.request('POST', `/function/${name}`, { body })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 200) throw new Error(`${name} answered ${r.status}: ${r.body.toString().slice(0, 300)}`)
  return ms
}

async function status(s: Served, name: string): Promise<{ replicas: number; availableReplicas: number; annotations: Record<string, string> }> {
  return (await s.system('GET', `/system/function/${name}`)).json()
}

/** Scale to zero, wait until no sandbox is left, pause, time one call; `cycles` times. */
async function cyclesFromZero(s: Served, name: string, pauseMs: number): Promise<number[]> {
  const cold: number[] = []
  for (let i = 0; i < cycles; i++) {
    const r = await s.system('POST', `/system/scale-function/${name}`, { serviceName: name, replicas: 0 })
    if (r.status !== 202) throw new Error(`scale: ${r.status}`)
    for (let n = 0; ; n++) {
      const st = await status(s, name)
      const a = st.annotations
      if (st.replicas === 0 && st.availableReplicas === 0 && a['com.kindling.sandboxes.idle'] === '0' && a['com.kindling.sandboxes.busy'] === '0') break
      if (n > 500) throw new Error(`${name} did not reach zero: ${JSON.stringify(st)}`)
      await sleep(10)
    }
    await sleep(pauseMs)
    cold.push(await timedCall(s, name, Buffer.alloc(0)))
  }
  return cold
}

async function measure(s: Served, t: TierInfo): Promise<TierResult> {
  const name = `zero-${t.name}`
  const labels = { 'com.kindling.isolation': t.name, 'com.kindling.app': name }
  const body = Buffer.alloc(0)
  if (t.capabilities.artifactKinds.includes('wasm-module')) {
    await deploy(s, { service: name, labels }, fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', 'noop.wasm')))
  } else if (t.capabilities.artifactKinds.includes('oci-image')) {
    await deploy(s, { service: name, image: 'functions/alpine:latest', envProcess: 'true', labels })
  } else {
    return { tier: t.name, skipped: `runs ${t.capabilities.artifactKinds.join(', ')} only` }
  }
  for (let i = 0; i < 20; i++) await timedCall(s, name, body)
  const warm: number[] = []
  for (let i = 0; i < WARM_CALLS; i++) warm.push(await timedCall(s, name, body))
  const idle = await cyclesFromZero(s, name, IDLE_PAUSE_MS)
  const b2b = await cyclesFromZero(s, name, SHORT_PAUSE_MS)
  const sum = (xs: number[]) => ({ n: xs.length, p50Ms: percentile(xs, 50), p99Ms: percentile(xs, 99), maxMs: Math.max(...xs) })
  const { maxMs: _m, ...w } = sum(warm)
  return { tier: t.name, warm: w, fromZero: sum(idle), backToBack: sum(b2b) }
}

const f = (v: number | undefined) => (v === undefined ? '' : v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1))

async function main(): Promise<void> {
  const env = environmentRecord(REPO_ROOT, `node --import tsx bench/ops/scale-from-zero.ts ${cycles}`)
  const s = await serve({ KINDLING_SPARE_APP_HOSTS: '1' })
  const results: TierResult[] = []
  try {
    const info = (await s.system('GET', '/system/info')).json<{ tiers: TierInfo[] }>()
    for (const t of info.tiers) {
      if (!t.available) {
        results.push({ tier: t.name, skipped: `unavailable: ${t.reason ?? ''}` })
        continue
      }
      try {
        results.push(await measure(s, t))
      } catch (e) {
        results.push({ tier: t.name, skipped: `failed: ${(e as Error).message.split('\n')[0]!.slice(0, 160)}` })
      }
      process.stderr.write(`  ${t.name} done\n`)
    }
  } finally {
    await s.stop()
  }
  console.log(environmentLine(env))
  console.log(`scale from zero: ${cycles} cycles per tier and pause (scale to 0, wait until no sandbox is left, pause, one call), ${WARM_CALLS} warm calls as the baseline; HTTP client to last byte, ms\n`)
  const rows = results.map((r) => [r.tier, f(r.warm?.p50Ms), f(r.warm?.p99Ms), f(r.fromZero?.p50Ms), f(r.fromZero?.p99Ms), f(r.backToBack?.p50Ms), f(r.backToBack?.p99Ms), r.skipped ?? ''])
  const header = ['tier', 'warm p50', 'warm p99', `zero+${IDLE_PAUSE_MS / 1000}s p50`, 'p99', `zero+${SHORT_PAUSE_MS}ms p50`, 'p99', 'note']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  for (const line of [header, widths.map((w) => '-'.repeat(w)), ...rows]) console.log(line.map((c, i) => (i === 0 || i === 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd())
  const out = path.join(REPO_ROOT, 'bench', 'results', 'ops-scale-from-zero-latest.json')
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, JSON.stringify({ kind: 'kindling-ops-scale-from-zero', environment: env, cycles, warmCalls: WARM_CALLS, pausesMs: { idle: IDLE_PAUSE_MS, backToBack: SHORT_PAUSE_MS }, results }, null, 2) + '\n')
  console.log(`\nwritten: ${path.relative(REPO_ROOT, out)}`)
}

await main()
