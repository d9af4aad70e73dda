// Scope `density` (issue 7, part 2): how many idle sandboxes of each tier fit at once, and what
// each costs in RSS and PSS (summed from /proc/<pid>/smaps_rollup over the processes that hold
// them). An experiment, bounded: it stops at a target count, when MemAvailable would drop below a
// safety margin, or at its time limit, and it stops every process it started.
//
// wasm: kindling's app host program (isolation/apphost/host-main) filled with sandboxes of one
// function over its own frame protocol. A Node process holds ~13,000 wasm memories with V8's
// default guard regions (each reserves ~10 GiB of address space), so the experiment fills one
// host until a spawn fails and starts the next. The same with --disable-wasm-trap-handler
// (explicit bounds checks, no guard regions), whose cost per call is measured beside. Without
// guard regions the next limit is vm.max_map_count (one mapping or more per wasm memory; past it
// V8 crashes the process instead of failing the allocation), so each host is filled only up to a
// share of it, estimated from its mappings after the first sandboxes.
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { AppHostClient } from '../lib/apphost-client.js'
import { memAvailableBytes } from '../lib/env.js'
import { BENCH_FUNCTIONS, wasmPath } from '../lib/functions.js'
import { artifactFor, createInProcessTiers, invokeRequest, NEVER } from '../lib/inproc.js'
import { sumMemory, treeMemory } from '../lib/procmem.js'
import { emptyResult, type Row, type ScopeContext, type ScopeResult, target } from '../lib/scope.js'
import { median, summarize } from '../lib/stats.js'
import { FRAME, prepareWasm, type Sandbox, type TierName } from '../../isolation/index.js'
import { loadConfig, tierContext } from '../../runtime/index.js'

const GiB = 1024 ** 3
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface WasmVariant {
  id: string
  label: string
  flags: string[]
  labels: Record<string, string>
}

interface FillOutcome {
  sandboxes: number
  hosts: number
  perHost: number[]
  stoppedBecause: string
  seconds: number
  /** memory of the hosts with the function loaded and no sandbox */
  base: { rssKiB: number; pssKiB: number }
  full: { rssKiB: number; pssKiB: number }
  /** extra RSS per sandbox after each of `used` sandboxes served one call */
  afterUse?: { used: number; rssKiBPerSandbox: number; pssKiBPerSandbox: number }
  firstError?: string
  /** hosts stopped below vm.max_map_count */
  capped: string[]
}

/** Lines of /proc/<pid>/maps: the memory mappings of a process. */
function mapCount(pid: number): number {
  try {
    let n = 0
    const text = fs.readFileSync(`/proc/${pid}/maps`, 'latin1')
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++
    return n
  } catch {
    return 0
  }
}

/** User address space of x86-64 Linux (47 bits). */
const ADDRESS_SPACE = 2 ** 47

function vmSizeBytes(pid: number): number {
  try {
    return Number(/^VmSize:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
  } catch {
    return 0
  }
}

function maxMapCount(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim()) || 65530
  } catch {
    return 65530
  }
}

export async function run(ctx: ScopeContext): Promise<ScopeResult> {
  const result = emptyResult('density', 'ok')
  const quick = ctx.quick
  const targetCount = Number(ctx.options['density-target'] ?? (quick ? 1000 : 100_000))
  const marginBytes = Number(ctx.options['margin-gib'] ?? 4) * GiB
  const maxHosts = Number(ctx.options['max-hosts'] ?? 16)
  const heapMiB = Number(ctx.options['density-heap-mib'] ?? 4096)
  const fillLimitMs = (quick ? 15 : 240) * 1000
  const fnName = String(ctx.options['density-function'] ?? 'echo')
  const fn = BENCH_FUNCTIONS.find((f) => f.name === fnName)
  if (!fn) throw new Error(`--density-function ${fnName}: not one of ${BENCH_FUNCTIONS.map((f) => f.name).join(', ')}`)

  // the plan and instrumented module exactly as the wasm tier prepares them
  const dataDir = path.join(ctx.workDir, 'density')
  fs.mkdirSync(dataDir, { recursive: true })
  const cfg = loadConfig({}, { deployExamples: false, dataDir })
  const tctx = tierContext(cfg, { dataDir: cfg.dataDirAbs, readSecret: () => undefined, log: () => {} }, 'wasm')
  const bytes = fs.readFileSync(wasmPath(ctx.repoRoot, fn))

  const variants: WasmVariant[] = [
    { id: 'guard', label: `wasm ${fn.name}, default labels (fresh: snapshot), V8 default (guard regions)`, flags: [], labels: {} },
    { id: 'bounds', label: `wasm ${fn.name}, default labels, --disable-wasm-trap-handler (explicit bounds checks)`, flags: ['--disable-wasm-trap-handler'], labels: {} },
  ]
  if (!quick && fn.wasmKind === 'as') variants.push({ id: 'bounds-reuse', label: `wasm ${fn.name}, state=reuse (no snapshot kept), --disable-wasm-trap-handler`, flags: ['--disable-wasm-trap-handler'], labels: { 'com.kindling.state': 'reuse' } })
  const only = ctx.options['variants'] ? String(ctx.options['variants']).split(',') : undefined

  for (const v of variants) {
    if (only && !only.includes(v.id)) continue
    if (ctx.shouldStop()) {
      result.notes.push(`${v.label}: not run (time budget)`)
      continue
    }
    const prepared = prepareWasm(artifactFor(dataDir, { name: `density-${v.id}`, tier: 'wasm', wasm: bytes, labels: v.labels }), tctx)
    const load = { fnId: `density-${v.id}`, kind: 'wasm', plan: prepared.plan, modulePath: prepared.modulePath }
    ctx.progress.step(`${v.label}: filling up to ${targetCount.toLocaleString('en-US')} sandboxes`)
    const o = await fillHosts(ctx, v, load, { targetCount, marginBytes, maxHosts, heapMiB, limitMs: fillLimitMs, body: fn.body })
    const n = o.sandboxes
    const rows: Row[] = [
      { group: v.label, name: 'idle sandboxes held at once', unit: 'count', n: 1, p50: n, note: `stopped: ${o.stoppedBecause}` },
      { group: v.label, name: 'app host processes', unit: 'count', n: 1, p50: o.hosts, note: `sandboxes per host: ${o.perHost.join(', ')}` },
      { group: v.label, name: 'RSS per sandbox (marginal: hosts full - hosts empty)', unit: 'KiB', n, p50: (o.full.rssKiB - o.base.rssKiB) / n },
      { group: v.label, name: 'PSS per sandbox (marginal)', unit: 'KiB', n, p50: (o.full.pssKiB - o.base.pssKiB) / n },
      { group: v.label, name: 'RSS per sandbox (hosts total / sandboxes)', unit: 'KiB', n, p50: o.full.rssKiB / n },
      { group: v.label, name: 'PSS per sandbox (hosts total / sandboxes)', unit: 'KiB', n, p50: o.full.pssKiB / n },
      { group: v.label, name: 'RSS of one empty app host (function loaded)', unit: 'MiB', n: o.hosts, p50: o.base.rssKiB / o.hosts / 1024 },
      { group: v.label, name: 'sandboxes spawned per second while filling', unit: '/s', n, p50: n / o.seconds, note: '256 spawn frames in flight' },
    ]
    if (o.afterUse) rows.push({ group: v.label, name: `extra RSS per sandbox after one call (${o.afterUse.used} sandboxes called)`, unit: 'KiB', n: o.afterUse.used, p50: o.afterUse.rssKiBPerSandbox })
    result.rows.push(...rows)
    if (o.firstError) result.notes.push(`${v.label}: the spawn that ended a host: ${o.firstError}`)
    if (o.capped.length) result.notes.push(`${v.label}: ${o.capped.length} host(s) filled to a limit computed from the first 1,024 sandboxes: ${o.capped[0]}`)
    result.targets.push(
      target({ id: `density-${v.id}-count`, text: `${v.label}: >= ${targetCount === 100_000 ? '100,000' : targetCount.toLocaleString('en-US')} idle sandboxes at once`, value: n, limit: quick ? targetCount : 100_000, unit: 'count', op: '>=' }),
      target({ id: `density-${v.id}-rss`, text: `${v.label}: < 32 KiB RSS per sandbox (marginal)`, value: (o.full.rssKiB - o.base.rssKiB) / n, limit: 32, unit: 'KiB', op: '<=' }),
    )
  }

  if (!ctx.shouldStop()) result.rows.push(...(await boundsCheckCost(ctx, dataDir, tctx)))
  if (!ctx.shouldStop()) result.rows.push(...(await otherTiers(ctx, marginBytes, result.notes)))
  result.notes.unshift(
    `RSS/PSS: summed over the app host processes from /proc/<pid>/smaps_rollup; marginal = (full - the same hosts with the function loaded and no sandbox) / sandboxes. Safety margin: stop while MemAvailable > ${(marginBytes / GiB).toFixed(0)} GiB`,
  )
  return result
}

interface FillOptions {
  targetCount: number
  marginBytes: number
  maxHosts: number
  heapMiB: number
  limitMs: number
  body: Buffer
}

async function fillHosts(ctx: ScopeContext, v: WasmVariant, load: Record<string, unknown>, opts: FillOptions): Promise<FillOutcome> {
  const hosts: AppHostClient[] = []
  const perHost: number[] = []
  const baseMem: { rssKiB: number; pssKiB: number }[] = []
  let total = 0
  let stoppedBecause = ''
  let firstError: string | undefined
  const capped: string[] = []
  const t0 = performance.now()
  const window = 256
  try {
    while (!stoppedBecause) {
      if (hosts.length >= opts.maxHosts) {
        stoppedBecause = `${opts.maxHosts} app hosts (--max-hosts)`
        break
      }
      const host = new AppHostClient(v.flags, opts.heapMiB)
      hosts.push(host)
      await host.ready
      await host.request(FRAME.LOAD, load)
      await sleep(200)
      baseMem.push(sumMemory([host.pid]))
      let inHost = 0
      let hostFull = false
      const maps0 = mapCount(host.pid)
      const vm0 = vmSizeBytes(host.pid)
      let cap = Infinity
      let capWhy = ''
      while (!hostFull) {
        if (inHost >= 1024 && cap === Infinity) {
          // a failing wasm allocation makes V8 collect garbage and retry, seconds each with a full
          // heap: stop short of both limits instead of running into them
          const mapsPer = Math.max(0.01, (mapCount(host.pid) - maps0) / inHost)
          const byMaps = Math.floor((0.85 * maxMapCount() - maps0) / mapsPer)
          const vmPer = Math.max(1, (vmSizeBytes(host.pid) - vm0) / inHost)
          const byVm = Math.floor((0.97 * ADDRESS_SPACE - vm0) / vmPer)
          cap = Math.min(byMaps, byVm)
          capWhy = byMaps < byVm ? `85% of vm.max_map_count=${maxMapCount()} (${mapsPer.toFixed(2)} mappings per sandbox)` : `97% of the 128 TiB address space (${(vmPer / GiB).toFixed(1)} GiB reserved per sandbox)`
        }
        if (inHost >= cap) {
          capped.push(`host ${hosts.length} stopped at ${inHost.toLocaleString('en-US')} sandboxes: ${capWhy}`)
          break
        }
        if (total >= opts.targetCount) stoppedBecause = `reached the target of ${opts.targetCount.toLocaleString('en-US')}`
        else if (memAvailableBytes() < opts.marginBytes) stoppedBecause = `MemAvailable fell to the ${(opts.marginBytes / GiB).toFixed(0)} GiB safety margin`
        else if (performance.now() - t0 > opts.limitMs) stoppedBecause = `time limit (${opts.limitMs / 1000} s)`
        else if (ctx.shouldStop()) stoppedBecause = 'time budget'
        if (stoppedBecause) break
        const k = Math.min(window, opts.targetCount - total, cap - inHost)
        const results = await Promise.allSettled(
          Array.from({ length: k }, (_, i) => host.request(FRAME.SPAWN, { fnId: load.fnId, sb: `d${hosts.length}-${inHost + i}` })),
        )
        for (const r of results) {
          if (r.status === 'fulfilled') {
            inHost++
            total++
          } else {
            hostFull = true
            firstError ??= r.reason instanceof Error ? r.reason.message : String(r.reason)
          }
        }
        if (host.exited) {
          hostFull = true
          firstError ??= `the host exited: ${host.stderr.slice(-300)}`
        }
        ctx.progress.tick(total, opts.targetCount, `in ${hosts.length} host(s), MemAvailable ${(memAvailableBytes() / GiB).toFixed(1)} GiB`)
      }
      perHost.push(inHost)
    }
    const seconds = (performance.now() - t0) / 1000
    await sleep(500)
    const live = hosts.filter((h) => !h.exited)
    const full = sumMemory(live.map((h) => h.pid))
    const base = baseMem.filter((_, i) => !hosts[i]!.exited).reduce((a, b) => ({ rssKiB: a.rssKiB + b.rssKiB, pssKiB: a.pssKiB + b.pssKiB }), { rssKiB: 0, pssKiB: 0 })
    const counted = perHost.filter((_, i) => !hosts[i]!.exited).reduce((a, b) => a + b, 0)
    // one call on some of the sandboxes of the first host: what a used idle sandbox costs more
    let afterUse: FillOutcome['afterUse']
    const h0 = live[0]
    if (h0 && perHost[0]) {
      const used = Math.min(perHost[0], 2000)
      const before = sumMemory([h0.pid])
      for (let i = 0; i < used; i += window) {
        await Promise.all(
          Array.from({ length: Math.min(window, used - i) }, (_, j) => {
            const req = invokeRequest(opts.body)
            return h0.request(FRAME.INVOKE, { sb: `d1-${i + j}`, callId: req.callId, method: 'POST', path: '/', query: '', headers: req.headers, deadline: req.deadline }, opts.body)
          }),
        )
      }
      await sleep(300)
      const after = sumMemory([h0.pid])
      afterUse = { used, rssKiBPerSandbox: (after.rssKiB - before.rssKiB) / used, pssKiBPerSandbox: (after.pssKiB - before.pssKiB) / used }
    }
    return { sandboxes: counted, hosts: live.length, perHost, stoppedBecause, seconds, base, full, afterUse, firstError, capped }
  } finally {
    ctx.progress.step(`${v.label}: stopping ${hosts.length} app host(s)`)
    await Promise.all(hosts.map((h) => h.stop()))
  }
}

/** What explicit bounds checks (no guard regions) cost per call and per instantiation. */
async function boundsCheckCost(ctx: ScopeContext, dataDir: string, tctx: ReturnType<typeof tierContext>): Promise<Row[]> {
  const rows: Row[] = []
  const n = ctx.quick ? 20 : 300
  const sha = BENCH_FUNCTIONS.find((f) => f.name === 'sha256')!
  const prepared = prepareWasm(artifactFor(dataDir, { name: 'density-cost', tier: 'wasm', wasm: fs.readFileSync(wasmPath(ctx.repoRoot, sha)), labels: { 'com.kindling.reset': 'reinstantiate', 'com.kindling.prewarm': 'false' } }), tctx)
  const load = { fnId: 'cost', kind: 'wasm', plan: prepared.plan, modulePath: prepared.modulePath }
  const kinds = [
    { label: 'V8 default (guard regions)', flags: [] as string[] },
    { label: '--disable-wasm-trap-handler', flags: ['--disable-wasm-trap-handler'] },
  ]
  const hosts = kinds.map((k) => new AppHostClient(k.flags, 1024))
  try {
    ctx.progress.step('cost of explicit bounds checks: sha256 of 64 KiB, new instance per call')
    for (const h of hosts) {
      await h.ready
      await h.request(FRAME.LOAD, load)
      await h.request(FRAME.SPAWN, { fnId: 'cost', sb: 'c' })
    }
    const run = kinds.map(() => [] as number[])
    const inst = kinds.map(() => [] as number[])
    for (let i = 0; i < n + 10; i++) {
      for (const [k, h] of hosts.entries()) {
        const req = invokeRequest(sha.body)
        const f = await h.request(FRAME.INVOKE, { sb: 'c', callId: req.callId, method: 'POST', path: '/', query: '', headers: req.headers, deadline: req.deadline }, sha.body)
        const t = (f.meta as { timings?: { runUs: number; instantiateUs: number } }).timings
        if (i >= 10 && t) {
          run[k]!.push(t.runUs)
          inst[k]!.push(t.instantiateUs)
        }
      }
      ctx.progress.tick(i + 1, n + 10)
    }
    for (const [k, kind] of kinds.entries()) {
      const r = summarize(run[k]!)
      const s = summarize(inst[k]!)
      const group = `per-call cost, ${kind.label}`
      rows.push(
        { group, name: 'sha256 64 KiB: run (tier)', unit: 'us', n: r.n, p50: r.p50, p99: r.p99, ci95: r.ci95, baseline: k ? `per-call cost, ${kinds[0]!.label}|sha256 64 KiB: run (tier)` : undefined, ratio: k ? r.p50 / median(run[0]!) : undefined },
        { group, name: 'sha256 64 KiB: instantiate (tier)', unit: 'us', n: s.n, p50: s.p50, p99: s.p99, ci95: s.ci95, baseline: k ? `per-call cost, ${kinds[0]!.label}|sha256 64 KiB: instantiate (tier)` : undefined, ratio: k ? s.p50 / median(inst[0]!) : undefined },
      )
    }
  } finally {
    await Promise.all(hosts.map((h) => h.stop()))
  }
  return rows
}

/** thread, process and container tiers: sandboxes spawned one after another through the tier API. */
async function otherTiers(ctx: ScopeContext, marginBytes: number, notes: string[]): Promise<Row[]> {
  const rows: Row[] = []
  const counts: Partial<Record<TierName, number>> = ctx.quick ? { thread: 1, process: 1, container: 1 } : { thread: 100, process: 50, container: 50 }
  const inproc = await createInProcessTiers(path.join(ctx.workDir, 'density-tiers'), { spareAppHosts: 0 })
  const echo = BENCH_FUNCTIONS.find((f) => f.name === 'echo')!
  try {
    for (const name of ['thread', 'process', 'container'] as const) {
      const tier = inproc.tiers.get(name)
      if (!tier) {
        notes.push(`${name}: not registered in runtime/tiers.ts yet`)
        continue
      }
      const why = tier.unavailableReason()
      if (why) {
        notes.push(`${name}: skipped: ${why}`)
        continue
      }
      if (ctx.shouldStop()) {
        notes.push(`${name}: not run (time budget)`)
        continue
      }
      const wasm = tier.capabilities.artifactKinds.includes('wasm-module')
      const prepared = await tier.prepare(
        artifactFor(inproc.dataDir, wasm ? { name: `density-${name}`, tier: name, wasm: fs.readFileSync(wasmPath(ctx.repoRoot, echo)) } : { name: `density-${name}`, tier: name, image: String(ctx.options['container-image'] ?? 'functions/alpine:latest'), envProcess: 'cat' }),
      )
      const sandboxes: Sandbox[] = []
      try {
        // one sandbox first: the app host (thread tier) and spares exist before the baseline
        sandboxes.push(await tier.spawn(prepared, { sandboxId: `dens-${name}-0` }))
        await sleep(ctx.quick ? 300 : 1500)
        const base = treeMemory(process.pid)
        const availBase = memAvailableBytes()
        const want = counts[name] ?? 10
        let stopped = `reached the target of ${want}`
        ctx.progress.step(`${name}: spawning up to ${want} idle sandboxes`)
        while (sandboxes.length - 1 < want) {
          if (memAvailableBytes() < marginBytes) {
            stopped = 'MemAvailable safety margin'
            break
          }
          if (ctx.shouldStop()) {
            stopped = 'time budget'
            break
          }
          sandboxes.push(await tier.spawn(prepared, { sandboxId: `dens-${name}-${sandboxes.length}` }))
          ctx.progress.tick(sandboxes.length - 1, want)
        }
        await sleep(ctx.quick ? 300 : 1500)
        const n = sandboxes.length - 1
        const full = treeMemory(process.pid)
        const group = `${name} echo, default labels`
        rows.push(
          { group, name: 'idle sandboxes held at once', unit: 'count', n: 1, p50: n, note: `stopped: ${stopped}` },
          { group, name: 'RSS per sandbox (marginal, process tree)', unit: 'MiB', n, p50: (full.rssKiB - base.rssKiB) / n / 1024, note: `${full.processes - base.processes} more processes` },
          { group, name: 'PSS per sandbox (marginal, process tree)', unit: 'MiB', n, p50: (full.pssKiB - base.pssKiB) / n / 1024 },
          { group, name: 'MemAvailable drop per sandbox', unit: 'MiB', n, p50: (availBase - memAvailableBytes()) / n / 1048576, note: name === 'container' ? 'containers are not children of this process: only this figure counts them' : undefined },
        )
        // one call each: the sandboxes really work
        const probe = sandboxes[sandboxes.length - 1]!
        const r = await probe.invoke(invokeRequest(echo.body), NEVER)
        if (r.status !== 200) notes.push(`${name}: the last sandbox answered ${r.status}`)
      } finally {
        ctx.progress.step(`${name}: disposing ${sandboxes.length} sandboxes`)
        await Promise.all(sandboxes.map((s) => s.dispose('shutdown').catch(() => {})))
        await tier.release(prepared).catch(() => {})
      }
    }
  } finally {
    await inproc.close()
  }
  return rows
}
