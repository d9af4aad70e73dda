// Scope `churn` (issue 7, part 2; Faasm ATC'20 Fig. 10): open-loop arrivals at a sweep of fixed
// rates, every request needing a new sandbox, from a generator in its own process. Per rate: the
// achieved throughput and the latency of each request; the knee is the highest rate the tier
// still keeps up with at its low-load latency.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BENCH_FUNCTIONS, wasmPath } from '../lib/functions.js'
import { Gateway } from '../lib/gateway.js'
import { type OpenLoopOutcome, runOpenLoop } from '../lib/openloop.js'
import { emptyResult, type Row, type ScopeContext, type ScopeResult } from '../lib/scope.js'
import { type TierName, which } from '../../isolation/index.js'

interface ChurnVariant {
  id: string
  label: string
  tier: TierName
  labels: Record<string, string>
  rates: number[]
  image?: string
  envProcess?: string
  /** whether every call is checked to have instantiated on its critical path */
  checkCold: boolean
}

const WASM_RATES = [50, 100, 200, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000]

/** The knee: the highest rate achieved at >= 90% with a p50 within 3x of the lowest rate's. */
export function knee(outcomes: readonly Pick<OpenLoopOutcome, 'rate' | 'achievedRps' | 'latencyUs' | 'fromScheduleUs'>[]): number | undefined {
  if (!outcomes.length) return undefined
  // latency from the scheduled send when the generator reports it (no coordinated omission)
  const p50 = (o: (typeof outcomes)[number]) => (o.fromScheduleUs ?? o.latencyUs).p50
  const base = p50(outcomes[0]!)
  let k: number | undefined
  for (const o of outcomes) {
    if (o.achievedRps >= 0.9 * o.rate && p50(o) <= 3 * base) k = o.rate
    else break
  }
  return k
}

export async function run(ctx: ScopeContext): Promise<ScopeResult> {
  const result = emptyResult('churn', 'ok')
  const quick = ctx.quick
  const durationS = Number(ctx.options['churn-duration'] ?? (quick ? 1 : 5))
  const warmupS = Number(ctx.options['churn-warmup'] ?? (quick ? 0.3 : 2))
  // pin the generator to the last CPU and the gateway (and the sandboxes it starts) to the others
  const cpus = os.availableParallelism()
  const pin = ctx.options['churn-pin'] !== 'false' && cpus >= 2 && !!which('taskset')
  const containerRates = ctx.options['container-rates'] ? String(ctx.options['container-rates']).split(',').map(Number) : [1, 2, 5, 10, 20, 50, 100]
  const noop = BENCH_FUNCTIONS.find((f) => f.name === 'noop')!
  const wasm = fs.readFileSync(wasmPath(ctx.repoRoot, noop))
  const rates = ctx.options['rates'] ? String(ctx.options['rates']).split(',').map(Number) : quick ? [100, 1000] : WASM_RATES
  const cold = { 'com.kindling.reset': 'reinstantiate', 'com.kindling.prewarm': 'false' }
  const variants: ChurnVariant[] = [
    { id: 'wasm-new', label: 'wasm noop, new instance on every call\'s critical path (Faaslet-like)', tier: 'wasm', labels: cold, rates, checkCold: true },
  ]
  if (!quick) {
    variants.push(
      { id: 'wasm-snapshot', label: 'wasm noop, clean instance from a snapshot restore (default; Proto-Faaslet-like)', tier: 'wasm', labels: {}, rates, checkCold: false },
      { id: 'inline-new', label: 'inline noop, new instance on every call\'s critical path', tier: 'inline', labels: cold, rates, checkCold: true },
    )
  }

  const gw = await Gateway.start(path.join(ctx.workDir, 'churn-gateway'), { spareAppHosts: 0 })
  try {
    const info = await gw.pids()
    if (pin) {
      // before any sandbox exists: app hosts and containers inherit the gateway's affinity
      const r = spawnSync('taskset', ['-a', '-p', '-c', `0-${cpus - 2}`, String(info.gateway)], { encoding: 'utf8' })
      result.notes.push(r.status === 0 ? `pinned: the load generator on CPU ${cpus - 1}, the gateway and everything it starts (app hosts, crun, containers) on CPU 0${cpus > 2 ? `-${cpus - 2}` : ''} (taskset): the system under test runs on ${cpus - 1} of the ${cpus} cores and the generator on the other, so neither takes the other's core (other processes on the machine are not pinned)` : `pinning failed (taskset exited ${r.status}: ${r.stderr.trim()}); generator and gateway share the cores`)
    } else result.notes.push('not pinned: the generator and the system under test share the cores')
    if (!quick && info.tiers.includes('container') && !info.unavailable['container']) {
      variants.push({ id: 'container', label: 'container busybox true, a new container per call (classic watchdog)', tier: 'container', labels: {}, rates: containerRates, image: String(ctx.options['container-image'] ?? 'functions/alpine:latest'), envProcess: 'true', checkCold: false })
    } else if (!info.tiers.includes('container')) result.notes.push('container: not registered in runtime/tiers.ts yet')
    for (const v of variants) {
      if (ctx.shouldStop()) {
        result.notes.push(`${v.label}: not run (time budget)`)
        continue
      }
      const name = `churn-${v.id}`
      // max replicas high enough that the pool is never the limit; every sandbox instantiates per call
      await gw.deploy(name, { wasm: v.image ? undefined : wasm, image: v.image, envProcess: v.envProcess, labels: { 'com.kindling.isolation': v.tier, 'com.openfaas.scale.max': '64', ...v.labels } })
      if (v.checkCold) await gw.record(name)
      ctx.progress.step(`${v.label}: ${v.rates.length} rates x ${durationS} s`)
      const outcomes = await runOpenLoop(
        { url: new URL(`/function/${name}`, gw.url).href, rates: v.rates, durationS, warmupS, drainS: 10, pauseMs: quick ? 100 : 500, maxConnections: 512, cpu: pin ? cpus - 1 : undefined },
        (o) => ctx.progress.line(`${v.id} ${o.rate}/s offered: ${Math.round(o.achievedRps)}/s achieved, p50 ${(o.latencyUs.p50 / 1000).toFixed(2)} ms, p99 ${(o.latencyUs.p99 / 1000).toFixed(2)} ms${o.dropped ? `, ${o.dropped} not sent` : ''}`),
      )
      if (v.checkCold) {
        const rec = await gw.take(name)
        // the first call of each sandbox uses the instance made at spawn
        const warm = rec.timings.filter((t) => !t || !(t.instantiateUs > 0)).length
        const sandboxes = (await gw.stats(name))?.available ?? 0
        if (warm > sandboxes + rec.coldStarts.length) result.notes.push(`${v.label}: ${warm} of ${rec.timings.length} calls did not instantiate on their critical path`)
        else result.notes.push(`${v.label}: ${rec.timings.length - warm} of ${rec.timings.length} calls instantiated on their critical path (the others are each sandbox's first call, on the instance made at spawn)`)
      }
      await gw.remove(name)
      for (const o of outcomes) {
        const group = v.label
        const lost = o.errors + o.non200 + o.dropped + o.unfinished
        result.rows.push({
          group,
          name: `${o.rate}/s offered: latency`,
          unit: 'ms',
          n: o.completed,
          p50: (o.fromScheduleUs ?? o.latencyUs).p50 / 1000,
          p99: (o.fromScheduleUs ?? o.latencyUs).p99 / 1000,
          note: `${o.fromScheduleUs ? 'from the scheduled send' : 'from the actual send'}; p90 ${((o.fromScheduleUs ?? o.latencyUs).p90 / 1000).toFixed(2)} ms; from the actual send p50 ${(o.latencyUs.p50 / 1000).toFixed(2)} ms; generator lag p99 ${(o.sendLagUs.p99 / 1000).toFixed(2)} ms${lost ? `; ${lost} lost (${o.errors} errors, ${o.non200} non-200, ${o.dropped} not sent, ${o.unfinished} unfinished)` : ''}`,
        }, { group, name: `${o.rate}/s offered: achieved`, unit: 'req/s', n: o.completed, p50: o.achievedRps, ratio: o.achievedRps / o.rate, baseline: undefined })
      }
      const k = knee(outcomes)
      const row: Row = { group: v.label, name: 'knee: highest rate kept up with (>= 90% achieved, p50 <= 3x low-load p50)', unit: 'req/s', n: outcomes.length, p50: k ?? NaN }
      result.rows.push(row)
      result.data = { ...(result.data ?? {}), [v.id]: outcomes }
    }
  } finally {
    await gw.stop()
  }
  result.notes.unshift(
    `open-loop generator in its own process: fixed inter-arrival time per rate, an untimed warm-up of ${warmupS} s at the rate, then ${durationS} s measured, each request on an idle keep-alive connection or a new one (at most 512); latency from the scheduled send time to the last byte (no coordinated omission: a late send or a wait for a connection counts; the latency from the actual send is in the note); achieved = 200 responses / (last response - first scheduled send). x floor column of "achieved" rows = achieved / offered`,
    'Faasm (ATC\'20 Fig. 10, 2.6 GHz Xeon): Faaslets keep ~5 ms up to ~600 exec/s, Proto-Faaslets ~0.5 ms up to ~4000 exec/s, Docker ~2 s up to ~3 exec/s',
  )
  return result
}
