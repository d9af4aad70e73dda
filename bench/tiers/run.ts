// The tiers benchmark: for inline, wasm, thread and process, a new sandbox (tier.spawn) and a warm
// invocation in-process and over HTTP, beside the raw primitives each tier is built on, all in one
// run; plus what the compiled-in interruption checks cost on a hot loop. Prints a table and writes
// bench/results/tiers-<date>.json (and tiers-latest.json).
//
//   npm run build && node dist/bench/tiers/run.js [--quick]     (the numbers to quote)
//   node --import tsx bench/tiers/run.ts --quick                   (from sources: processes and
//                                                                   workers then load tsx, so their
//                                                                   start-up times are not representative)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runningFromSource } from '../../isolation/index.js'
import { readVersion, REPO_ROOT } from '../../runtime/index.js'
import { measureHttp } from './http.js'
import { measureInterrupt, measureRealWork } from './interrupt.js'
import { measurePrimitives } from './primitives.js'
import { fmtUs, type Summary, table } from './stats.js'
import { measureTier, type TierResults, VARIANTS } from './tiers.js'

const quick = process.argv.includes('--quick')
const fromSources = runningFromSource(import.meta.url)
const N = quick
  ? { spawnFast: 200, spawnSlow: 10, invoke: 2000, http: 2000, prim: { spawn: 10, roundTrip: 2000, instance: 2000 }, loop: 1e8, repeats: 3, realWork: 100 }
  : { spawnFast: 1000, spawnSlow: 40, invoke: 10000, http: 10000, prim: { spawn: 40, roundTrip: 10000, instance: 10000 }, loop: 1e8, repeats: 5, realWork: 500 }
const FUELS = [1024, 4096, 65536]

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-bench-tiers-'))
const t0 = Date.now()
const log = (m: string) => process.stderr.write(`[tiers ${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}\n`)

try {
  if (fromSources) log('running from TypeScript sources: worker and process start-ups include tsx; build and run dist/ for real figures')
  log('raw primitives')
  const primitives = await measurePrimitives(N.prim)
  const tiers: TierResults[] = []
  for (const v of VARIANTS) {
    log(`tier ${v.label}`)
    const slow = v.label.includes('no spare') || v.label.includes('spare')
    const withInvoke = !v.label.includes('no spare')
    tiers.push(await measureTier(v, dataDir, { spawn: slow ? N.spawnSlow : N.spawnFast, invoke: N.invoke }, withInvoke))
  }
  log('over HTTP')
  const http = await measureHttp(dataDir, ['inline', 'wasm', 'thread', 'process'], N.http)
  log('interruption checks on a hot loop')
  const interrupt = await measureInterrupt(N.loop, N.repeats, FUELS)
  const realWork = measureRealWork(N.realWork)

  const s = (x: Summary | undefined) => (x ? `${fmtUs(x.p50)} / ${fmtUs(x.p99)}` : '-')
  const ratio = (a: Summary | undefined, b: Summary) => (a ? `${(a.p50 / b.p50).toFixed(2)}x` : '-')
  const baseOf = (tier: string): [string, Summary] =>
    tier === 'thread' ? ['new Worker', primitives.workerSpawn] : tier === 'process' ? ['fork', primitives.forkSpawn] : ['new Instance + call', primitives.wasmInstanceAndCall]
  const rows = tiers.map((r) => {
    const [baseName, base] = baseOf(r.tier)
    return [r.label, r.start, s(r.spawn), `${ratio(r.spawn, base)} ${baseName}`, s(r.invoke), s(http[r.tier] && !r.label.includes('no spare') ? http[r.tier] : undefined)]
  })
  const out: string[] = []
  out.push(`kindling tiers benchmark${quick ? ' (--quick)' : ''}, ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}${fromSources ? ', FROM SOURCES (tsx)' : ''}`)
  out.push('')
  out.push('p50 / p99')
  out.push(table(['tier', 'a new sandbox is', 'new sandbox (spawn)', 'vs primitive (p50)', 'warm invoke, in-process', 'warm invoke, HTTP'], rows))
  out.push('')
  out.push(table(['raw primitive', 'p50 / p99'], [
    ['new WebAssembly.Instance + call', s(primitives.wasmInstanceAndCall)],
    ['new Worker until ready', s(primitives.workerSpawn)],
    ['message round trip to a warm worker', s(primitives.workerRoundTrip)],
    ['child_process.fork until ready', s(primitives.forkSpawn)],
    ['IPC round trip to a warm child', s(primitives.forkIpcRoundTrip)],
    ['HTTP floor: GET /healthz on the gateway', s(http.floor)],
  ]))
  out.push('')
  out.push(`interruption checks: ${interrupt.iterations.toExponential(0)} iterations of an add loop, median of ${N.repeats}`)
  out.push(table(['variant', 'ms per run', 'overhead', 'interrupt calls per run'], [
    ['plain (no checks)', interrupt.plainMs.toFixed(1), '-', '0'],
    ...interrupt.instrumented.map((i) => [`fuel ${i.fuel}`, i.ms.toFixed(1), `${i.overheadPct >= 0 ? '+' : ''}${i.overheadPct.toFixed(1)} %`, String(i.interruptCalls)]),
  ]))
  out.push('')
  out.push(`interruption checks on real work: a warm sandbox, run + snapshot reset per call, fuel ${4096}, median of ${N.realWork} calls each, interleaved`)
  const pct = (p: number) => `${p >= 0 ? '+' : ''}${p.toFixed(1)} %`
  out.push(table(['function', 'no checks', 'loop checks', 'loop + entry checks', 'overhead (loops)', 'overhead (loops + entries)'], realWork.map((r) => [r.name, fmtUs(r.plainUs), fmtUs(r.loopsUs), fmtUs(r.checkedUs), pct(r.loopsOverheadPct), pct(r.overheadPct)])))
  const text = out.join('\n')
  process.stdout.write(`${text}\n`)

  const resultsDir = path.join(REPO_ROOT, 'bench', 'results')
  fs.mkdirSync(resultsDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const json = JSON.stringify({
    bench: 'tiers',
    quick,
    fromSources,
    at: new Date().toISOString(),
    environment: { node: process.version, platform: process.platform, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg(), memoryBytes: os.totalmem(), kindling: readVersion() },
    unit: 'microseconds',
    primitives,
    tiers,
    http,
    interrupt,
    realWork,
    table: text,
  }, null, 2)
  fs.writeFileSync(path.join(resultsDir, `tiers-${stamp}.json`), json)
  fs.writeFileSync(path.join(resultsDir, 'tiers-latest.json'), json)
  log(`wrote bench/results/tiers-${stamp}.json`)
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true })
}
