// Scope `peers` (issue 17 item 1): kindling's tiers beside workerd (Cloudflare's Workers runtime,
// installed on demand into a cache folder) and a bare node:http server (the floor of any Node
// gateway), the same echo (POST "hello", text/plain) everywhere, plus a wasm workload workerd can
// run too (the sha256 kernel as a wasm module). autocannon in its own process at 1 and 50
// connections; every case once per round, rounds shuffled, ratios taken within each round.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { TierName } from '../../isolation/index.js'
import { BENCH_FUNCTIONS, sha256Block, wasmPath } from '../lib/functions.js'
import { Gateway } from '../lib/gateway.js'
import { startNodeEcho } from '../lib/node-echo.js'
import { type LoadOutcome, type RawServer, runAutocannon } from '../lib/load.js'
import { emptyResult, type Row, type ScopeContext, type ScopeResult, target, type Target } from '../lib/scope.js'
import { median, prng, shuffled, summarize } from '../lib/stats.js'
import { freePort } from '../lib/free-port.js'
import { defaultWorkerdCache, ECHO_WORKER, ensureWorkerd, shaWorker, startWorkerd, WORKERD_VERSION, type WorkerdServer } from '../lib/workerd.js'

export const ECHO_BODY = 'hello'
const CONNECTIONS = [1, 50] as const

type Workload = 'echo' | 'sha256'

interface PeerCase {
  id: string
  label: string
  workload: Workload
  /** 'workerd' | 'node' for the peers, or a kindling deployment */
  server: 'workerd' | 'node' | { tier: TierName; image?: string; envProcess?: string }
}

/** The case each workload's ratios are taken against. */
export const BASELINE: Record<Workload, string> = { echo: 'workerd-echo', sha256: 'workerd-sha256' }

/**
 * Median over rounds of a / b, each round's pair measured in the same round; rounds where either
 * side is missing (or b is 0) are left out. NaN when no round has both.
 */
export function ratioOverRounds(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): number {
  const ratios: number[] = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === undefined || y === undefined || !(y > 0)) continue
    const r = x / y
    if (Number.isFinite(r)) ratios.push(r)
  }
  return ratios.length ? median(ratios) : NaN
}

/** The targets for the default (wasm) and inline tiers against workerd, from measured ratios and p99s. */
export function peerTargets(m: { rpsRatio(id: string, conns: number): number; p99(id: string, conns: number): number }): Target[] {
  const out: Target[] = []
  for (const conns of CONNECTIONS) {
    out.push(
      target({ id: `default-${conns}c-workerd`, text: `default tier (wasm) echo, ${conns} conn: req/s >= 1.0x workerd's (same round)`, value: m.rpsRatio('wasm-echo', conns), limit: 1, unit: 'ratio', op: '>=' }),
      target({ id: `default-${conns}c-p99`, text: `default tier (wasm) echo, ${conns} conn: p99 no worse than workerd's`, value: m.p99('wasm-echo', conns), limit: m.p99('workerd-echo', conns), unit: 'us', op: '<=', note: 'p99 of every 2xx response time (median over rounds); the limit is workerd\'s in the same run' }),
    )
  }
  out.push(
    target({ id: 'inline-1c-workerd', text: 'inline tier echo, 1 conn: req/s >= 1.2x workerd\'s (same round)', value: m.rpsRatio('inline-echo', 1), limit: 1.2, unit: 'ratio', op: '>=' }),
    target({ id: 'inline-50c-workerd', text: 'inline tier echo, 50 conn: req/s >= 1.0x workerd\'s (same round)', value: m.rpsRatio('inline-echo', 50), limit: 1, unit: 'ratio', op: '>=' }),
  )
  return out
}

const SHA_HEX = createHash('sha256').update(sha256Block()).digest('hex')

/** One request before the load: the server answers what the workload should (else the case is dropped). */
async function check(url: string, workload: Workload): Promise<string | undefined> {
  try {
    const res = await fetch(url, { method: 'POST', body: workload === 'echo' ? ECHO_BODY : '', headers: { 'content-type': 'text/plain' } })
    const text = await res.text()
    if (res.status !== 200) return `answered ${res.status}: ${text.slice(0, 200)}`
    const ok = workload === 'echo' ? text === ECHO_BODY : text.startsWith(SHA_HEX)
    return ok ? undefined : `answered ${JSON.stringify(text.slice(0, 80))}`
  } catch (e) {
    return (e as Error).message
  }
}

export async function run(ctx: ScopeContext): Promise<ScopeResult> {
  const result = emptyResult('peers', 'ok')
  const quick = ctx.quick
  const durationS = Number(ctx.options['duration'] ?? (quick ? 1 : 5))
  const warmupS = Number(ctx.options['warmup'] ?? (quick ? 0.3 : 1))
  const rounds = Number(ctx.options['rounds'] ?? (quick ? 1 : 3))
  const cacheDir = String(ctx.options['workerd-cache'] ?? defaultWorkerdCache())
  const echoFn = BENCH_FUNCTIONS.find((f) => f.name === 'echo')!
  const shaFn = BENCH_FUNCTIONS.find((f) => f.name === 'sha256')!
  const echoWasm = fs.readFileSync(wasmPath(ctx.repoRoot, echoFn))
  const shaWasm = fs.readFileSync(wasmPath(ctx.repoRoot, shaFn))

  ctx.progress.step(`workerd ${WORKERD_VERSION}: installing into ${cacheDir} unless there already`)
  const install = await ensureWorkerd(cacheDir)
  let workerd: WorkerdServer | undefined
  if (!install.ok) result.notes.push(`skipped workerd (and every ratio to it): ${install.reason}`)
  else {
    if (install.installed) result.notes.push(`workerd ${WORKERD_VERSION} installed into ${cacheDir} in ${install.seconds.toFixed(1)} s (reused from there next time)`)
    try {
      const [echoPort, shaPort] = [await freePort(), await freePort()]
      workerd = await startWorkerd(
        install.binary,
        path.join(ctx.workDir, 'workerd'),
        [
          { name: 'echo', port: echoPort, modules: [{ name: 'echo.js', kind: 'esModule' }] },
          { name: 'sha', port: shaPort, modules: [{ name: 'sha.js', kind: 'esModule' }, { name: 'sha256-64k.wasm', kind: 'wasm' }] },
        ],
        { 'echo.js': ECHO_WORKER, 'sha.js': shaWorker('sha256-64k.wasm'), 'sha256-64k.wasm': shaWasm },
      )
    } catch (e) {
      result.notes.push(`skipped workerd (and every ratio to it): ${(e as Error).message.slice(0, 300)}`)
    }
  }

  ctx.progress.step('starting the node:http floor and a gateway')
  const node = await startNodeEcho()
  const gw = await Gateway.start(path.join(ctx.workDir, 'peers-gateway'), { spareAppHosts: 0 })
  try {
    const info = await gw.pids()
    const cases: PeerCase[] = [
      { id: 'workerd-echo', label: 'workerd, JS echo', workload: 'echo', server: 'workerd' },
      { id: 'node-echo', label: 'node:http echo (own process, the Node floor)', workload: 'echo', server: 'node' },
      { id: 'inline-echo', label: 'kindling inline, AssemblyScript echo', workload: 'echo', server: { tier: 'inline' } },
      { id: 'wasm-echo', label: 'kindling wasm (default), AssemblyScript echo', workload: 'echo', server: { tier: 'wasm' } },
      { id: 'thread-echo', label: 'kindling thread, AssemblyScript echo', workload: 'echo', server: { tier: 'thread' } },
      { id: 'process-echo', label: 'kindling process, AssemblyScript echo', workload: 'echo', server: { tier: 'process' } },
      { id: 'workerd-sha256', label: 'workerd, sha256 of 64 KiB (wasm kernel)', workload: 'sha256', server: 'workerd' },
      { id: 'wasm-sha256', label: 'kindling wasm (default), sha256 of 64 KiB', workload: 'sha256', server: { tier: 'wasm' } },
      { id: 'inline-sha256', label: 'kindling inline, sha256 of 64 KiB', workload: 'sha256', server: { tier: 'inline' } },
    ]
    if (!quick) cases.push({ id: 'container-echo', label: 'kindling container, busybox cat', workload: 'echo', server: { tier: 'container', image: String(ctx.options['container-image'] ?? 'functions/alpine:latest'), envProcess: 'cat' } })
    else result.notes.push('container: full mode only (slow)')

    const urls = new Map<string, string>()
    for (const c of cases) {
      let url: string | undefined
      if (c.server === 'workerd') url = workerd?.urls[c.workload === 'echo' ? 'echo' : 'sha']?.href
      else if (c.server === 'node') url = node.url.href
      else {
        const t = c.server.tier
        if (!info.tiers.includes(t) || info.unavailable[t]) {
          result.notes.push(`skipped ${c.label}: ${info.unavailable[t] ?? 'tier not registered'}`)
          continue
        }
        const name = `peers-${c.id}`
        await gw.deploy(name, { wasm: c.server.image ? undefined : c.workload === 'echo' ? echoWasm : shaWasm, image: c.server.image, envProcess: c.server.envProcess, labels: { 'com.kindling.isolation': t } })
        url = new URL(`/function/${name}`, gw.url).href
      }
      if (!url) continue
      const bad = await check(url, c.workload)
      if (bad) result.notes.push(`skipped ${c.label}: the check request ${bad}`)
      else urls.set(c.id, url)
    }

    const active = cases.filter((c) => urls.has(c.id))
    const runs = active.flatMap((c) => CONNECTIONS.map((connections) => ({ c, connections })))
    const outcomes = new Map<string, LoadOutcome>()
    const rand = prng(17)
    let done = 0
    let roundsDone = 0
    for (let round = 0; round < rounds; round++) {
      if (round > 0 && ctx.shouldStop()) {
        result.notes.push(`stopped after ${round} of ${rounds} rounds (time budget)`)
        break
      }
      for (const { c, connections } of shuffled(runs, rand)) {
        ctx.progress.step(`round ${round + 1}/${rounds}: ${connections} conn, ${durationS} s: ${c.label}`)
        const o = await runAutocannon({ url: urls.get(c.id)!, method: 'POST', body: c.workload === 'echo' ? ECHO_BODY : '', headers: { 'content-type': 'text/plain' }, connections, durationS, warmupS, exactLatency: true })
        outcomes.set(`${c.id}|${connections}|${round}`, o)
        if (o.non2xx || o.errors) result.notes.push(`${c.label}, ${connections} conn, round ${round + 1}: ${o.non2xx} non-2xx, ${o.errors} errors`)
        ctx.progress.tick(++done, rounds * runs.length, `${Math.round(o.rps)} req/s`)
      }
      roundsDone = round + 1
    }

    const perRound = (id: string, conns: number) => [...Array(roundsDone).keys()].map((r) => outcomes.get(`${id}|${conns}|${r}`))
    const rpsRatio = (a: string, b: string, conns: number) => ratioOverRounds(perRound(a, conns).map((o) => o?.rps), perRound(b, conns).map((o) => o?.rps))
    // autocannon's own histogram keeps whole milliseconds; the generator also keeps every response time
    const latency = (o: LoadOutcome) => o.latencyUs ?? { p50: o.latencyMs.p50 * 1000, p99: o.latencyMs.p99 * 1000 }
    const p99 = (id: string, conns: number) => median(perRound(id, conns).flatMap((o) => (o ? [latency(o).p99] : [])))
    for (const c of active) {
      for (const conns of CONNECTIONS) {
        const os = perRound(c.id, conns).filter((o): o is LoadOutcome => !!o)
        if (!os.length) continue
        const rps = summarize(os.map((o) => o.rps))
        const row: Row = { group: c.label, name: `${conns} conn: throughput`, unit: 'req/s', n: os.length, p50: rps.p50, min: rps.min, max: rps.max, ci95: os.length > 1 ? [rps.min, rps.max] : undefined }
        const base = BASELINE[c.workload]
        const baseCase = active.find((x) => x.id === base)
        if (c.id !== base && baseCase) {
          row.ratio = rpsRatio(c.id, base, conns)
          row.baseline = `${baseCase.label}|${conns} conn: throughput`
        }
        const l50 = median(os.map((o) => latency(o).p50))
        const l99 = median(os.map((o) => latency(o).p99))
        const k = l50 >= 10_000 ? 1 / 1000 : 1
        result.rows.push(row, { group: c.label, name: `${conns} conn: latency`, unit: k === 1 ? 'us' : 'ms', n: os.length, p50: l50 * k, p99: l99 * k, note: "median over rounds of each run's p50 / p99 (every 2xx response's time)" })
      }
    }
    for (const c of active) {
      const base = active.find((x) => x.id === BASELINE[c.workload])
      if (!base || base.id === c.id) continue
      for (const conns of CONNECTIONS) {
        const r = rpsRatio(c.id, base.id, conns)
        if (Number.isFinite(r)) result.rows.push({ group: 'ratios to workerd (req/s, same round)', name: `${c.label} / ${base.id === 'workerd-echo' ? 'workerd echo' : 'workerd sha256'}, ${conns} conn`, unit: 'ratio', n: roundsDone, p50: r })
      }
    }
    if (urls.has('workerd-echo')) result.targets.push(...peerTargets({ rpsRatio: (id, conns) => rpsRatio(id, 'workerd-echo', conns), p99 }))
    else result.notes.push('no targets: workerd did not run')
    result.notes.unshift(
      `autocannon ${durationS} s per run after ${warmupS} s of warm-up, in its own process; echo: POST "${ECHO_BODY}" as text/plain everywhere; sha256: an empty POST (the kernel hashes its fixed 64 KiB); ${roundsDone} round(s), cases shuffled per round; each row is the median over rounds (a ratio: the median of the per-round ratios); the generator, the servers and kindling's app hosts share the machine's cores`,
      `workerd ${WORKERD_VERSION}: one \`workerd serve\` process, the JS echo worker and the sha256 worker (the same functions/dist/sha256-64k.wasm, a small WASI shim in JS, a new instance per request like kindling's fresh state per call); kindling: one gateway process, functions deployed over the API with default labels (fresh state per call), autoscaler off`,
      'latency: nearest-rank p50 / p99 of every 2xx response time as autocannon measured it (hrtime), in microseconds (its own histogram keeps whole milliseconds)',
    )
    result.data = { workerdVersion: WORKERD_VERSION, workerd: install.ok ? { binary: install.binary, installed: install.installed } : { skipped: install.reason }, durationS, warmupS, rounds: roundsDone, outcomes: Object.fromEntries(outcomes) }
  } finally {
    await gw.stop()
    await node.stop()
    await workerd?.stop()
  }
  return result
}
