// A/B of two builds of kindling in one run (issue 17 item 3): a gateway from each build's dist/,
// the same echo deployed on both, autocannon rounds interleaved (A and B in shuffled order within
// each round, at each connection count), so drift from other work on the machine hits both alike.
// Prints per case the median req/s and latency p50/p99 over rounds, and the median, min and max of
// the B/A ratios taken within a round (their spread is the noise); and the CPU time the gateway and
// its app hosts used per request (utime + stime from /proc), which other work on a shared machine
// disturbs far less than req/s.
//   cp -r dist tmp/ab-A/dist   # the build before a change (any folder under the repo resolves node_modules)
//   node dist/bench/profiles/ab.js --a tmp/ab-A --b . [--tier wasm] [--rounds 6] [--seconds 3] [--connections 1,50]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { REPO_ROOT } from '../../runtime/index.js'
import { BENCH_FUNCTIONS, wasmPath } from '../lib/functions.js'
import type { Gateway as GatewayT } from '../lib/gateway.js'
import { runAutocannon, type LoadOutcome } from '../lib/load.js'
import { median } from '../lib/stats.js'

const { values } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string', default: '.' }, tier: { type: 'string', default: 'wasm' }, rounds: { type: 'string', default: '6' }, seconds: { type: 'string', default: '3' }, connections: { type: 'string', default: '1,50' }, labels: { type: 'string', default: '' } } })
if (!values.a) throw new Error('--a DIR (a folder holding the other build as dist/) is required')
const echo = fs.readFileSync(wasmPath(REPO_ROOT, BENCH_FUNCTIONS.find((f) => f.name === 'echo')!))
const labels: Record<string, string> = { 'com.kindling.isolation': values.tier! }
for (const kv of values.labels!.split(',').filter(Boolean)) labels[kv.split('=')[0]!] = kv.split('=')[1]!

const builds = { A: path.resolve(values.a), B: path.resolve(values.b!) }
const gws = new Map<string, { gw: GatewayT; url: string; data: string; pids: number[] }>()

/** CPU seconds (user + system) used so far by these processes. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0
  for (const pid of pids) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(f[11]) + Number(f[12])
  }
  return ticks / 100
}
try {
  for (const [name, root] of Object.entries(builds)) {
    const { Gateway } = (await import(path.join(root, 'dist/bench/lib/gateway.js'))) as { Gateway: typeof GatewayT }
    const data = fs.mkdtempSync(path.join(os.tmpdir(), `kindling-ab-${name}-`))
    const gw = await Gateway.start(data, { spareAppHosts: 0 })
    await gw.deploy('echo', { wasm: echo, labels })
    const url = new URL('/function/echo', gw.url).href
    const check = await fetch(url, { method: 'POST', body: 'hello' })
    if ((await check.text()) !== 'hello') throw new Error(`${name}: the echo answered ${check.status}`)
    const p = await gw.pids()
    gws.set(name, { gw, url, data, pids: [p.gateway, ...p.appHosts] })
  }
  const conns = values.connections!.split(',').map(Number)
  const out = new Map<string, (LoadOutcome & { cpuUs: number })[]>()
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const c of conns) {
      const order = Math.random() < 0.5 ? ['A', 'B'] : ['B', 'A']
      for (const name of order) {
        const g = gws.get(name)!
        const cpu0 = cpuSeconds(g.pids)
        const o0 = await runAutocannon({ url: g.url, method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' }, connections: c, durationS: Number(values.seconds), warmupS: 0.5, exactLatency: true })
        // the warm-up's requests are not in o.ok: scale by the measured share of the run
        const o = { ...o0, cpuUs: ((cpuSeconds(g.pids) - cpu0) * 1e6 * (o0.seconds / (o0.seconds + 0.5))) / o0.ok }
        if (o.non2xx || o.errors) console.log(`  ${name} ${c} conn round ${round + 1}: ${o.non2xx} non-2xx, ${o.errors} errors`)
        out.set(`${name}|${c}`, [...(out.get(`${name}|${c}`) ?? []), o])
      }
    }
    process.stderr.write(`round ${round + 1} done\n`)
  }
  console.log(`A/B, ${values.tier} echo, ${values.rounds} rounds x ${values.seconds} s, A=${builds.A} B=${builds.B}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  for (const c of conns) {
    const [a, b] = [out.get(`A|${c}`)!, out.get(`B|${c}`)!]
    const ratios = a.map((o, i) => b[i]!.rps / o.rps)
    const cpu = a.map((o, i) => b[i]!.cpuUs / o.cpuUs)
    const fmt = (os: (LoadOutcome & { cpuUs: number })[]) => `${Math.round(median(os.map((o) => o.rps)))} req/s, p50 ${Math.round(median(os.map((o) => o.latencyUs!.p50)))} us, p99 ${Math.round(median(os.map((o) => o.latencyUs!.p99)))} us, CPU ${median(os.map((o) => o.cpuUs)).toFixed(1)} us/req`
    const range = (r: number[]) => `median ${median(r).toFixed(3)} (rounds ${Math.min(...r).toFixed(3)}-${Math.max(...r).toFixed(3)})`
    console.log(`${c} conn: A ${fmt(a)} | B ${fmt(b)} | B/A req/s ${range(ratios)}; B/A CPU per request ${range(cpu)}`)
  }
} finally {
  for (const { gw, data } of gws.values()) {
    await gw.stop().catch(() => {})
    fs.rmSync(data, { recursive: true, force: true })
  }
}
