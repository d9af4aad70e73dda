// Soak (issue 18, "figures to report"): a real gateway process on loopback under closed-loop load
// (autocannon, 50 connections shared out over one function per tier), while functions are scaled to
// zero and back every few seconds through /system/scale-function. Reports errors (the target is 0)
// and the gateway's RSS at start, middle and end (drift); writes bench/results/soak-<time>.json.
//   node --import tsx bench/ops/soak.ts [seconds=60] [connections=50] [--quick]
// --quick: 10 s at 10 connections (CI). The container tier joins when /system/info says it is
// available (root and crun).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { REPO_ROOT } from '../../runtime/index.js'
import { environmentRecord } from '../lib/env.js'
import { descendants, smapsRollup } from '../lib/procmem.js'
import { timestamp } from '../lib/results.js'
import { deploy, serve, type Served } from './server.js'

interface AutocannonRequest { method: string; path: string; body?: string; headers?: Record<string, string>; onResponse?: (status: number) => void }
interface AutocannonResult { requests: { total: number }; latency: { p50: number; p99: number; max: number }; errors: number; timeouts: number; non2xx: number; '2xx': number; duration: number }
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

const quick = process.argv.includes('--quick')
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const seconds = Number(positional[0] ?? (quick ? 10 : 60))
const connections = Number(positional[1] ?? (quick ? 10 : 50))
const CHURN_EVERY_MS = quick ? 2000 : 4000

const dist = (n: string) => fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', `${n}.wasm`))

interface Target { name: string; tier: string; body: Record<string, unknown>; wasm?: Buffer }
const TARGETS: Target[] = [
  { name: 'soak-inline', tier: 'inline', body: {}, wasm: dist('cat') },
  { name: 'soak-wasm', tier: 'wasm', body: {}, wasm: dist('echo') },
  { name: 'soak-thread', tier: 'thread', body: {}, wasm: dist('reverse-bytes') },
  { name: 'soak-process', tier: 'process', body: {}, wasm: dist('cat') },
  { name: 'soak-container', tier: 'container', body: { image: 'functions/alpine:latest', envProcess: 'cat' } },
]

const rssMiB = (pid: number) => Math.round((smapsRollup(pid)?.rssKiB ?? NaN) / 1024)
const treeRssMiB = (pid: number) => Math.round([pid, ...descendants(pid)].reduce((s, p) => s + (smapsRollup(p)?.rssKiB ?? 0), 0) / 1024)

async function main(): Promise<void> {
  const command = `node --import tsx bench/ops/soak.ts ${seconds} ${connections}${quick ? ' --quick' : ''}`
  const s: Served = await serve({ KINDLING_SPARE_APP_HOSTS: '0' }, 16)
  const pid = s.child.pid!
  try {
    const info = (await s.system('GET', '/system/info')).json<{ tiers: { name: string; available: boolean; reason?: string }[] }>()
    const available = new Set(info.tiers.filter((t) => t.available).map((t) => t.name))
    const targets = TARGETS.filter((t) => available.has(t.tier))
    for (const t of TARGETS) if (!available.has(t.tier)) console.log(`tier ${t.tier} is not available here: ${info.tiers.find((x) => x.name === t.tier)?.reason}`)
    for (const t of targets) {
      // scale.zero lets the idle check take a function to zero too; the API scales it explicitly anyway
      await deploy(s, { service: t.name, ...t.body, labels: { 'com.kindling.isolation': t.tier, 'com.kindling.app': `soak-${t.tier}`, 'com.kindling.timeout': '20s' } }, t.wasm)
    }
    // one call each, so that start-up (app hosts, images) is not counted as drift
    for (const t of targets) {
      const r = await s.request('POST', `/function/${t.name}`, { body: 'warm' })
      if (r.status !== 200) throw new Error(`${t.name}: ${r.status} ${r.body.toString()}`)
    }

    const perTarget = new Map(targets.map((t) => [t.name, { ok: 0, bad: 0, statuses: {} as Record<string, number> }]))
    const requests: AutocannonRequest[] = targets.map((t) => ({
      method: 'POST',
      path: `/function/${t.name}`,
      body: `soak ${t.tier}`,
      headers: { 'content-type': 'text/plain' },
      onResponse: (status: number) => {
        const c = perTarget.get(t.name)!
        if (status === 200) c.ok++
        else c.bad++
        c.statuses[status] = (c.statuses[status] ?? 0) + 1
      },
    }))

    const rss = { startMiB: rssMiB(pid), middleMiB: 0, endMiB: 0, maxMiB: 0, treeStartMiB: treeRssMiB(pid), treeEndMiB: 0 }
    const samples: { t: number; rssMiB: number }[] = []
    const t0 = Date.now()
    const sampler = setInterval(() => {
      const v = rssMiB(pid)
      samples.push({ t: (Date.now() - t0) / 1000, rssMiB: v })
      rss.maxMiB = Math.max(rss.maxMiB, v)
    }, 1000)
    const middle = setTimeout(() => (rss.middleMiB = rssMiB(pid)), (seconds * 1000) / 2)

    // scale-to-zero churn: each round one function goes to 0 and, half a period later, back to 1
    let churnRounds = 0
    const churnErrors: string[] = []
    let i = 0
    const churn = setInterval(() => {
      const t = targets[i++ % targets.length]!
      churnRounds++
      void (async () => {
        const down = await s.system('POST', `/system/scale-function/${t.name}`, { serviceName: t.name, replicas: 0 })
        if (down.status !== 202) churnErrors.push(`${t.name} -> 0: ${down.status} ${down.body.toString()}`)
        await new Promise((r) => setTimeout(r, CHURN_EVERY_MS / 2))
        const up = await s.system('POST', `/system/scale-function/${t.name}`, { serviceName: t.name, replicas: 1 })
        if (up.status !== 202) churnErrors.push(`${t.name} -> 1: ${up.status} ${up.body.toString()}`)
      })().catch((e: unknown) => churnErrors.push(String(e)))
    }, CHURN_EVERY_MS)

    console.log(`soak: ${seconds} s, ${connections} connections over ${targets.map((t) => t.tier).join(', ')}; scale-to-zero churn every ${CHURN_EVERY_MS / 1000} s`)
    // one closed loop per function, the connections shared out, so a slow tier does not hold the fast ones back
    const share = targets.map((_, k) => Math.floor(connections / targets.length) + (k < connections % targets.length ? 1 : 0))
    const runs = await Promise.all(requests.map((req, k) => autocannon({ url: s.url.origin, connections: Math.max(1, share[k]!), duration: seconds, timeout: 30, requests: [req] })))
    const r = {
      requests: { total: runs.reduce((a, x) => a + x.requests.total, 0) },
      '2xx': runs.reduce((a, x) => a + x['2xx'], 0),
      non2xx: runs.reduce((a, x) => a + x.non2xx, 0),
      errors: runs.reduce((a, x) => a + x.errors, 0),
      timeouts: runs.reduce((a, x) => a + x.timeouts, 0),
      duration: Math.max(...runs.map((x) => x.duration)),
      latency: { p50: Math.max(...runs.map((x) => x.latency.p50)), p99: Math.max(...runs.map((x) => x.latency.p99)), max: Math.max(...runs.map((x) => x.latency.max)) },
    }
    clearInterval(churn)
    clearInterval(sampler)
    clearTimeout(middle)
    await new Promise((res) => setTimeout(res, CHURN_EVERY_MS))
    rss.endMiB = rssMiB(pid)
    rss.treeEndMiB = treeRssMiB(pid)
    const health = await s.request('GET', '/healthz')

    const errors = r.errors + r.timeouts + r.non2xx + churnErrors.length
    const result = {
      kind: 'kindling-soak', version: 1, command, seconds, connections, tiers: targets.map((t) => t.tier),
      requests: r.requests.total, ok: r['2xx'], non2xx: r.non2xx, socketErrors: r.errors, timeouts: r.timeouts, errors,
      rps: Math.round(r['2xx'] / r.duration), slowestLatencyMs: r.latency,
      latencyByFunctionMs: Object.fromEntries(targets.map((t, k) => [t.name, { connections: share[k], p50: runs[k]!.latency.p50, p99: runs[k]!.latency.p99, max: runs[k]!.latency.max }])),
      perFunction: Object.fromEntries(perTarget), churnRounds, churnErrors,
      gatewayRssMiB: { ...rss, driftMiB: rss.endMiB - rss.startMiB }, rssSamples: samples,
      healthzAtEnd: health.status === 200,
      environment: environmentRecord(REPO_ROOT, command),
    }
    console.log(`requests: ${result.requests} (${result.rps}/s 2xx); slowest function: p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms`)
    for (const [k, [name, c]] of [...perTarget].entries()) {
      console.log(`  ${name} (${share[k]} connections): ${c.ok} ok, ${c.bad} not ok ${JSON.stringify(c.statuses)}, p50 ${runs[k]!.latency.p50} ms, p99 ${runs[k]!.latency.p99} ms`)
    }
    console.log(`errors: ${errors} (non-2xx ${r.non2xx}, socket errors ${r.errors}, timeouts ${r.timeouts}, churn ${churnErrors.length}); churn rounds: ${churnRounds}`)
    for (const e of churnErrors.slice(0, 5)) console.log(`  churn: ${e}`)
    console.log(`gateway RSS: start ${rss.startMiB} MiB, middle ${rss.middleMiB} MiB, end ${rss.endMiB} MiB (drift ${rss.endMiB - rss.startMiB} MiB, max ${rss.maxMiB} MiB); with its children: ${rss.treeStartMiB} -> ${rss.treeEndMiB} MiB`)
    console.log(`/healthz at the end: ${health.status}`)
    const dir = path.join(REPO_ROOT, 'bench', 'results')
    fs.mkdirSync(dir, { recursive: true })
    const file = path.join(dir, `soak-${timestamp()}.json`)
    fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
    fs.copyFileSync(file, path.join(dir, `soak${quick ? '-quick' : ''}-latest.json`))
    console.log(`written: ${path.relative(REPO_ROOT, file)}`)
    process.exitCode = errors === 0 && result.healthzAtEnd ? 0 : 1
  } finally {
    await s.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(2)
})
