// Scope `coldstart` (issue 7, part 1): for every tier registered in runtime/tiers.ts and every
// benchmark function, code-cold, instance-cold (with its phases) and warm, each in-process (tier
// API called directly) and end to end over HTTP on loopback (one keep-alive connection to a
// gateway in its own process), beside the raw primitive the tier is built on, measured in the
// same run with every case interleaved.
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { bareAssemblyScript, bareWasi, type BareCall } from '../lib/bare-wasm.js'
import { applyBaselines, type Case, type CaseResult, caseRows, p50Us, runInterleaved } from '../lib/cases.js'
import { ChildFloor } from '../lib/child-floor.js'
import { forkUs, readyScript, runCommand, workerSpawnUs } from '../lib/floors.js'
import { quiesce } from '../lib/quiesce.js'
import { BENCH_FUNCTIONS, type BenchFunction, wasmPath, withNonce } from '../lib/functions.js'
import { Gateway } from '../lib/gateway.js'
import { startNodeEcho } from '../lib/node-echo.js'
import { buildRequest, Http1Connection } from '../lib/http1.js'
import { artifactFor, createInProcessTiers, createNoSpareTier, invokeRequest, NEVER } from '../lib/inproc.js'
import { emptyResult, type Row, type ScopeContext, type ScopeResult, target, type Target } from '../lib/scope.js'
import type { IsolationTier, Prepared, Sandbox, TierName } from '../../isolation/index.js'

type FloorKind = 'wasm' | 'wasm-child' | 'hop' | 'worker' | 'fork' | 'crun'
/**
 * The primitive each tier is built on. The wasm tier's instances live in an app host process, so
 * its floor is the bare instantiate+call done in a child process over one socketpair round trip
 * (the in-thread floor is measured beside it, to show the hop's share).
 */
const FLOOR_OF: Partial<Record<TierName, FloorKind>> = { inline: 'wasm', wasm: 'wasm-child', thread: 'worker', process: 'fork', container: 'crun' }
/** Tiers whose sandbox is a wasm instance in a running process: a new instance per call is the cold start. */
const INSTANCE_TIERS: readonly TierName[] = ['inline', 'wasm']
const FAST_TIERS: readonly TierName[] = ['inline', 'wasm']
/** Tiers that start sandboxes from spares made ahead, and how long a spare takes to be ready again. */
const SPARE_SETTLE_MS: Partial<Record<TierName, number>> = { thread: 20, process: 50 }
/** Labels that make every call of a wasm function instantiate on its critical path. */
const COLD_LABELS = { 'com.kindling.reset': 'reinstantiate', 'com.kindling.prewarm': 'false' }

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r))
/** The Node floor of an HTTP call: a bare node:http echo in its own process, timed by the same client as the gateway. */
const HTTP_FLOOR = 'node:http echo in its own process, warm call (same client, 1 keep-alive connection)'

interface Sizes {
  rounds: number
  fast: number
  slow: number
  codeCold: number
  fastWarmup: number
  slowWarmup: number
}

function sizesFor(ctx: ScopeContext): Sizes {
  const n = Number(ctx.options['n'] ?? 0)
  const rounds = Number(ctx.options['rounds'] ?? (ctx.quick ? 1 : 10))
  return {
    rounds,
    fast: n > 0 ? Math.ceil(n / rounds) : ctx.quick ? 30 : 200,
    slow: ctx.quick ? 1 : 6,
    codeCold: ctx.quick ? 1 : 3,
    fastWarmup: ctx.quick ? 5 : 20,
    slowWarmup: ctx.quick ? 0 : 2,
  }
}

function floorLabel(kind: FloorKind, fn?: BenchFunction): string {
  switch (kind) {
    case 'wasm':
      return `bare instantiate+call ${fn!.name}`
    case 'wasm-child':
      return `bare instantiate+call ${fn!.name} in a child process, 1 socketpair round trip`
    case 'hop':
      return 'bare socketpair round trip to a child process (nothing run)'
    case 'worker':
      return 'bare Worker spawn until ready'
    case 'fork':
      return 'bare fork of a node script until ready'
    case 'crun':
      return `bare crun run ${fn!.name} (same bundle)`
  }
}

function checkBody(fn: BenchFunction, body: Buffer, status: number, what: string): void {
  if (status !== 200) throw new Error(`${what}: status ${status}: ${body.toString().slice(0, 200)}`)
  const err = fn.check(body)
  if (err) throw new Error(`${what}: ${err}`)
}

export async function run(ctx: ScopeContext): Promise<ScopeResult> {
  const result = emptyResult('coldstart', 'ok')
  const sizes = sizesFor(ctx)
  const functions = BENCH_FUNCTIONS.filter((f) => !ctx.options['functions'] || String(ctx.options['functions']).split(',').includes(f.name))
  const onlyTiers = ctx.options['tiers'] ? String(ctx.options['tiers']).split(',') : undefined
  const containerImage = String(ctx.options['container-image'] ?? 'functions/alpine:latest')
  const skipped: string[] = []

  ctx.progress.step('starting in-process tiers and a gateway process')
  const inproc = await createInProcessTiers(path.join(ctx.workDir, 'coldstart-inproc'), { spareAppHosts: 1 })
  const gw = await Gateway.start(path.join(ctx.workDir, 'coldstart-gateway'), { spareAppHosts: 1 })
  const conn = await Http1Connection.open(gw.url)
  const cleanups: (() => Promise<unknown>)[] = []
  const cases: Case[] = []
  const floors = new Map<string, Case>()
  const noSpare = new Map<TierName, IsolationTier>()
  const gwInfo = await gw.pids()
  const nodeEcho = await startNodeEcho()
  const echoConn = await Http1Connection.open(nodeEcho.url)
  const echoBody = BENCH_FUNCTIONS.find((f) => f.name === 'echo')!.body
  const echoReq = buildRequest(nodeEcho.url, 'POST', '/', echoBody, { 'content-type': 'text/plain' })
  floors.set(HTTP_FLOOR, {
    group: 'floor',
    name: HTTP_FLOOR,
    batch: sizes.fast,
    sample: async () => {
      const r = await echoConn.request(echoReq)
      if (r.status !== 200 || !r.body.equals(echoBody)) throw new Error(`node:http echo floor answered ${r.status}`)
      return r.us
    },
  })

  const addFloor = (kind: FloorKind, fn: BenchFunction | undefined, make: () => Case): string => {
    const label = floorLabel(kind, fn)
    if (!floors.has(label)) floors.set(label, make())
    return `floor|${label}`
  }

  try {
    for (const [name, tier] of inproc.tiers) {
      if (onlyTiers && !onlyTiers.includes(name)) continue
      const why = tier.unavailableReason()
      if (why) {
        skipped.push(`${name}: ${why}`)
        continue
      }
      if (gwInfo.unavailable[name]) {
        skipped.push(`${name} (gateway): ${gwInfo.unavailable[name]}`)
        continue
      }
      const kinds = tier.capabilities.artifactKinds
      const runsWasm = kinds.includes('wasm-module')
      if (!runsWasm && !kinds.includes('oci-image')) {
        skipped.push(`${name}: no benchmark function for artifact kinds ${kinds.join(', ')}`)
        continue
      }
      if (SPARE_SETTLE_MS[name] !== undefined && !noSpare.has(name)) {
        try {
          const t = await createNoSpareTier(name, path.join(ctx.workDir, `coldstart-nospare-${name}`))
          if (t) {
            noSpare.set(name, t)
            cleanups.push(() => t.close())
          }
        } catch (e) {
          skipped.push(`${name} without spares: ${(e as Error).message.split('\n')[0]}`)
        }
      }
      for (const fn of functions) {
        // quick mode only has to keep the code paths alive: one function on the slow tiers
        if (ctx.quick && !FAST_TIERS.includes(name) && fn.name !== 'noop' && !ctx.options['functions']) continue
        try {
          await addTierCases(ctx, { name, tier, fn, runsWasm, containerImage, sizes, inproc, gw, conn, cases, cleanups, addFloor, noSpare })
        } catch (e) {
          skipped.push(`${name} / ${fn.name}: setup failed: ${(e as Error).message.split('\n')[0]}`)
        }
      }
    }
    if (onlyTiers) for (const t of onlyTiers) if (!inproc.tiers.has(t as TierName)) skipped.push(`${t}: not registered in runtime/tiers.ts`)
    for (const t of ['thread', 'process', 'container'] as const) if (!inproc.tiers.has(t) && !onlyTiers) skipped.push(`${t}: not registered in runtime/tiers.ts yet`)

    const all = [...floors.values(), ...cases]
    // background work of one case (a spare booting, a container deleted) stays out of the next
    const results = await runInterleaved(all, sizes.rounds, ctx.progress, ctx.shouldStop, { beforeBatch: () => quiesce({ maxMs: ctx.quick ? 300 : 3000 }) })
    result.rows = toRows(results)
    for (const r of results) {
      if (r.error) result.notes.push(`${r.group}: ${r.name} failed: ${r.error.split('\n')[0]}`)
      for (const n of r.notes) result.notes.push(`${r.group}: ${r.name}: ${n}`)
    }
    result.targets = targetsOf(result.rows)
  } finally {
    ctx.progress.step('cleaning up')
    conn.close()
    echoConn.close()
    await nodeEcho.stop()
    for (const c of cleanups.reverse()) await c().catch(() => {})
    await gw.stop()
    await inproc.close()
  }
  result.notes.unshift(
    'in-process: the tier API called directly (prepare, spawn, invoke); http: one keep-alive connection from this process to a gateway in its own process (built from dist/), request sent to last response byte',
    `instance-cold over http: wasm/inline functions deployed with ${Object.entries(COLD_LABELS).map(([k, v]) => `${k}=${v}`).join(' ')} (every call instantiates on its critical path, checked with the timings each call reports); other tiers scaled to zero before each call (untimed), so the call waits for a new sandbox`,
    'code-cold: a module with a unique custom section (V8 cannot reuse a compile) prepared, spawned and called once; over http: upload + deploy + first call, in an application whose app host is already running',
    'floors: bare instantiate+call = new WebAssembly.Instance of the original module + one call with a minimal WASI stub (no kindling code); the wasm tier (instances in an app host process) is compared with the same done in a child node process asked over one socketpair round trip (its cold call is two: spawn, then invoke), and the bare round trip alone is shown beside it',
  )
  result.notes.push(...skipped.map((s) => `skipped ${s}`))
  result.data = { sizes, functions: functions.map((f) => ({ name: f.name, file: f.wasmFile, about: f.about, container: f.container.fprocess })), skipped, gatewayTiers: gwInfo.tiers }
  return result
}

interface TierCaseArgs {
  name: TierName
  tier: IsolationTier
  fn: BenchFunction
  runsWasm: boolean
  containerImage: string
  sizes: Sizes
  inproc: Awaited<ReturnType<typeof createInProcessTiers>>
  gw: Gateway
  conn: Http1Connection
  cases: Case[]
  cleanups: (() => Promise<unknown>)[]
  addFloor(kind: FloorKind, fn: BenchFunction | undefined, make: () => Case): string
  /** thread and process tiers built without spares */
  noSpare: ReadonlyMap<TierName, IsolationTier>
}

let sandboxSeq = 0

async function addTierCases(ctx: ScopeContext, a: TierCaseArgs): Promise<void> {
  const { name, tier, fn, sizes, inproc, gw, conn } = a
  const group = `${name} / ${fn.name}`
  const fast = FAST_TIERS.includes(name)
  const batch = fast ? sizes.fast : sizes.slow
  const wasmBytes = a.runsWasm ? fs.readFileSync(wasmPath(ctx.repoRoot, fn)) : undefined
  const body = a.runsWasm ? fn.body : fn.container.body
  const source = a.runsWasm ? { wasm: wasmBytes } : { image: a.containerImage, envProcess: fn.container.fprocess }
  const app = `cs-${name}`

  // ---- floor
  let baseline: string | undefined
  const kind = FLOOR_OF[name]
  let prepared: Prepared | undefined
  prepared = await tier.prepare(artifactFor(inproc.dataDir, { name: `cs-${name}-${fn.name}`, tier: name, app, ...source }))
  a.cleanups.push(() => tier.release(prepared!))
  if ((kind === 'wasm' || kind === 'wasm-child') && wasmBytes) {
    const module = new WebAssembly.Module(wasmBytes)
    const call: BareCall = fn.wasmKind === 'as' ? bareAssemblyScript(module, fn.body) : bareWasi(module, fn.body)
    checkBody(fn, Buffer.from(call()), 200, 'bare wasm floor')
    const inThread = a.addFloor('wasm', fn, () => ({
      group: 'floor',
      name: floorLabel('wasm', fn),
      batch: sizes.fast,
      sample: async () => {
        await yieldToLoop()
        const t0 = performance.now()
        call()
        return (performance.now() - t0) * 1000
      },
    }))
    baseline = inThread
    if (kind === 'wasm-child') {
      const child = await ChildFloor.start(fn.wasmKind, wasmPath(ctx.repoRoot, fn))
      a.cleanups.push(() => child.stop())
      checkBody(fn, (await child.call(fn.body)).out, 200, 'bare wasm floor in a child process')
      baseline = a.addFloor(kind, fn, () => ({
        group: 'floor',
        name: floorLabel(kind, fn),
        batch: sizes.fast,
        sample: async () => {
          await yieldToLoop()
          return (await child.call(fn.body)).us
        },
      }))
      const hop = await ChildFloor.start('echo')
      a.cleanups.push(() => hop.stop())
      a.addFloor('hop', undefined, () => ({
        group: 'floor',
        name: floorLabel('hop'),
        batch: sizes.fast,
        sample: async () => {
          await yieldToLoop()
          return (await hop.call(fn.body)).us
        },
      }))
    }
  } else if (kind === 'worker') {
    baseline = a.addFloor(kind, undefined, () => ({ group: 'floor', name: floorLabel(kind), batch: sizes.slow, warmup: sizes.slowWarmup, sample: workerSpawnUs }))
  } else if (kind === 'fork') {
    const script = readyScript(ctx.workDir)
    baseline = a.addFloor(kind, undefined, () => ({ group: 'floor', name: floorLabel(kind), batch: sizes.slow, warmup: sizes.slowWarmup, sample: () => forkUs(script) }))
  } else if (kind === 'crun') {
    const bundle = (prepared as { plan?: { templateDir?: string } }).plan?.templateDir
    if (bundle && fs.existsSync(path.join(bundle, 'config.json'))) {
      let seq = 0
      baseline = a.addFloor(kind, fn, () => ({
        group: 'floor',
        name: floorLabel(kind, fn),
        batch: sizes.slow,
        warmup: sizes.slowWarmup,
        sample: async () => {
          const r = await runCommand('crun', ['run', '--bundle', bundle, `kbench-${process.pid}-${fn.name}-${seq++}`], fn.container.body)
          if (r.code !== 0) throw new Error(`crun run exited ${r.code}: ${r.stderr.slice(0, 300)}`)
          return r.us
        },
      }))
    }
  }

  // ---- in-process
  const req = () => invokeRequest(body)
  const coldCase = (label: string, t: IsolationTier, p: Prepared, before?: () => Promise<void>): Case => ({
    group,
    name: label,
    batch,
    warmup: fast ? sizes.fastWarmup : sizes.slowWarmup,
    baseline,
    sample: async () => {
      if (before) await before()
      await yieldToLoop()
      const t0 = performance.now()
      const sb = await t.spawn(p, { sandboxId: `cs-${++sandboxSeq}` })
      const t1 = performance.now()
      const r = await sb.invoke(req(), NEVER)
      const t2 = performance.now()
      await sb.dispose('replaced')
      checkBody(fn, r.body, r.status, `${group} ${label}`)
      return {
        us: (t2 - t0) * 1000,
        parts: {
          'spawn (bench clock)': (t1 - t0) * 1000,
          'instantiate (tier)': sb.startup.instantiateUs + (r.timings?.instantiateUs ?? 0),
          'run (tier)': r.timings?.runUs,
          'first invoke (bench clock)': (t2 - t1) * 1000,
        },
      }
    },
  })
  const settle = SPARE_SETTLE_MS[name]
  if (settle === undefined) a.cases.push(coldCase('instance-cold in-process', tier, prepared))
  else {
    // new sandboxes come from spares started ahead: measured with a spare ready, and without spares
    // at least the spare's boot time, then until nothing of ours uses the CPU (the refill is done)
    a.cases.push(coldCase('instance-cold in-process (spare ready)', tier, prepared, async () => {
      await new Promise((r) => setTimeout(r, settle))
      await quiesce({ maxMs: 2000 })
    }))
    const noSpare = a.noSpare.get(name)
    if (noSpare) {
      const p = await noSpare.prepare(artifactFor(inproc.dataDir, { name: `cs-ns-${name}-${fn.name}`, tier: name, app: `${app}-ns`, ...source }))
      a.cleanups.push(() => noSpare.release(p))
      a.cases.push(coldCase('instance-cold in-process (no spare)', noSpare, p))
    }
  }
  let warm: Sandbox | undefined
  a.cleanups.push(async () => warm?.dispose('shutdown'))
  a.cases.push({
    group,
    name: 'warm in-process',
    batch: fast ? batch : batch * 4,
    baseline,
    sample: async () => {
      warm ??= await tier.spawn(prepared!, { sandboxId: `cs-warm-${++sandboxSeq}` })
      if (!warm.alive) {
        await warm.dispose('failed')
        warm = await tier.spawn(prepared!, { sandboxId: `cs-warm-${++sandboxSeq}` })
      }
      // the gateway's event loop turns between calls; this lets the post-call reset run off the clock
      await yieldToLoop()
      const t0 = performance.now()
      const r = await warm.invoke(req(), NEVER)
      const us = (performance.now() - t0) * 1000
      checkBody(fn, r.body, r.status, `${group} warm`)
      return { us, parts: { 'instantiate (tier)': r.timings?.instantiateUs, 'run (tier)': r.timings?.runUs } }
    },
  })
  a.cases.push({
    group,
    name: 'code-cold in-process',
    batch: sizes.codeCold,
    warmup: ctx.quick ? 0 : 1,
    sample: async () => {
      const nonce = `${process.pid}-${++sandboxSeq}-${Math.random()}`
      const art = artifactFor(inproc.dataDir, {
        name: `cc-${name}-${fn.name}-${sandboxSeq}`,
        tier: name,
        app: `cc-${name}`,
        ...(wasmBytes ? { wasm: withNonce(wasmBytes, nonce) } : { image: a.containerImage, envProcess: fn.container.fprocess }),
      })
      const t0 = performance.now()
      const p = await tier.prepare(art)
      const t1 = performance.now()
      const sb = await tier.spawn(p, { sandboxId: `cc-${sandboxSeq}` })
      const t2 = performance.now()
      const r = await sb.invoke(req(), NEVER)
      const t3 = performance.now()
      await sb.dispose('replaced')
      await tier.release(p)
      checkBody(fn, r.body, r.status, `${group} code-cold`)
      return { us: (t3 - t0) * 1000, parts: { 'prepare (bench clock)': (t1 - t0) * 1000, 'spawn (bench clock)': (t2 - t1) * 1000, 'first invoke (bench clock)': (t3 - t2) * 1000 } }
    },
  })

  // ---- over HTTP
  const warmName = `cs-${name}-${fn.name}-warm`
  const coldName = `cs-${name}-${fn.name}-cold`
  const instanceTier = INSTANCE_TIERS.includes(name)
  const labels = { 'com.kindling.isolation': name, 'com.kindling.app': app }
  await gw.deploy(warmName, { ...source, labels })
  a.cleanups.push(() => gw.remove(warmName))
  await gw.deploy(coldName, { ...source, labels: instanceTier ? { ...labels, ...COLD_LABELS } : labels })
  a.cleanups.push(() => gw.remove(coldName))
  const warmReq = buildRequest(gw.url, 'POST', `/function/${warmName}`, body, { 'content-type': 'text/plain' })
  const coldReq = buildRequest(gw.url, 'POST', `/function/${coldName}`, body, { 'content-type': 'text/plain' })
  // container sandboxes serve one call each; the next one is created in the background
  const pace = name === 'container'

  await gw.record(coldName)
  a.cases.push({
    group,
    name: 'instance-cold http',
    batch,
    warmup: fast ? sizes.fastWarmup : sizes.slowWarmup,
    baseline,
    sample: async () => {
      if (!instanceTier) await gw.scale(coldName, 0)
      const r = await conn.request(coldReq)
      checkBody(fn, r.body, r.status, `${group} instance-cold http`)
      // what the gateway recorded for this call, asked after the clock stopped
      const rec = await gw.drain(coldName)
      const t = rec.timings[rec.timings.length - 1]
      if (instanceTier) {
        if (!t || !(t.instantiateUs > 0)) return { us: r.us, excluded: 'the call found an instance ready (a new sandbox: the instance made at its spawn)' }
        return { us: r.us, parts: { 'instantiate (tier)': t.instantiateUs, 'run (tier)': t.runUs, 'outside the sandbox (http - sandbox total)': r.us - t.totalUs } }
      }
      const cs = rec.coldStarts.find((c) => c.onCriticalPath)
      if (!cs) return { us: r.us, excluded: 'the call did not wait for a new sandbox' }
      return { us: r.us, parts: { 'spawn (tier)': cs.startup.spawnUs, 'instantiate (tier)': cs.startup.instantiateUs + (t?.instantiateUs ?? 0), 'run (tier)': t?.runUs } }
    },
  })
  a.cases.push({
    group,
    name: 'warm http',
    batch: fast ? batch : batch * 4,
    baseline,
    sample: async () => {
      if (pace) await gw.waitIdle(warmName)
      const r = await conn.request(warmReq)
      checkBody(fn, r.body, r.status, `${group} warm http`)
      return r.us
    },
  })
  let ccSeq = 0
  a.cases.push({
    group,
    name: 'code-cold http',
    batch: sizes.codeCold,
    warmup: ctx.quick ? 0 : 1,
    sample: async () => {
      const fname = `cc-${name}-${fn.name}-${process.pid}-${++ccSeq}`
      const src = wasmBytes ? { wasm: withNonce(wasmBytes, `${fname}-${Math.random()}`) } : source
      const t0 = performance.now()
      await gw.deploy(fname, { ...src, labels: { 'com.kindling.isolation': name, 'com.kindling.app': `cc-${name}` } })
      const t1 = performance.now()
      const r = await conn.request(buildRequest(gw.url, 'POST', `/function/${fname}`, body, { 'content-type': 'text/plain' }))
      const t2 = performance.now()
      await gw.remove(fname)
      checkBody(fn, r.body, r.status, `${group} code-cold http`)
      return { us: (t2 - t0) * 1000, parts: { 'upload + deploy (API)': (t1 - t0) * 1000, 'first call': (t2 - t1) * 1000 } }
    },
  })
}

const ORDER = ['code-cold in-process', 'code-cold http', 'instance-cold in-process', 'instance-cold in-process (spare ready)', 'instance-cold in-process (no spare)', 'instance-cold http', 'warm in-process', 'warm http']
const PHASES = ['prepare (bench clock)', 'upload + deploy (API)', 'spawn (bench clock)', 'spawn (tier)', 'instantiate (tier)', 'run (tier)', 'first invoke (bench clock)', 'outside the sandbox (http - sandbox total)', 'first call']

function toRows(results: CaseResult[]): Row[] {
  const floors = results.filter((r) => r.group === 'floor')
  const others = results.filter((r) => r.group !== 'floor')
  const rows: Row[] = []
  for (const r of floors) rows.push(...caseRows(r))
  const groups = [...new Set(others.map((r) => r.group))]
  for (const g of groups) {
    const mine = others.filter((r) => r.group === g).sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name))
    for (const r of mine) rows.push(...caseRows(r, PHASES))
    // the gateway's own cost: the same warm call over HTTP minus in-process
    const inp = rows.find((x) => x.group === g && x.name === 'warm in-process')
    const http = rows.find((x) => x.group === g && x.name === 'warm http')
    if (inp && http) {
      rows.push({ group: g, name: 'gateway cost, warm (http - in-process p50)', unit: 'us', n: Math.min(inp.n, http.n), p50: p50Us(http) - p50Us(inp), baseline: `floor|${HTTP_FLOOR}` })
    }
  }
  applyBaselines(rows)
  return rows
}

function find(rows: Row[], group: string, name: string): Row | undefined {
  return rows.find((r) => r.group === group && r.name === name)
}

function targetsOf(rows: Row[]): Target[] {
  const out: Target[] = []
  const groups = [...new Set(rows.map((r) => r.group))]
  for (const g of groups) {
    const [tier, fn] = g.split(' / ') as [TierName, string]
    const cold = find(rows, g, 'instance-cold in-process')
    const coldHttp = find(rows, g, 'instance-cold http')
    const warmHttp = find(rows, g, 'warm http')
    if (tier === 'wasm' || tier === 'inline') {
      if (cold?.ratio !== undefined) {
        out.push(target({ id: `${tier}-${fn}-cold-inproc-2x`, text: `${g}: instance-cold in-process p50 <= 2x bare instantiate+call`, value: cold.ratio, limit: 2, unit: 'ratio', op: '<=', note: tier === 'wasm' ? 'against the bare instantiate+call in a child process (one round trip); spawn + first invoke are two round trips to the app host' : undefined }))
      }
      const gwCost = find(rows, g, 'gateway cost, warm (http - in-process p50)')
      if (gwCost?.ratio !== undefined) {
        out.push(target({ id: `${tier}-${fn}-gateway-1.5x`, text: `${g}: gateway cost of a warm call (http - in-process p50) <= 1.5x a node:http echo's whole call (same client)`, value: gwCost.ratio, limit: 1.5, unit: 'ratio', op: '<=' }))
      }
      if (coldHttp && fn === 'noop') {
        out.push(target({ id: `${tier}-${fn}-cold-http-0.2ms`, text: `${g}: instance-cold over HTTP, 1 connection, p50 < 0.2 ms (Faasm: 5.2 ms Faaslet, 0.5 ms Proto-Faaslet)`, value: p50Us(coldHttp) / 1000, limit: 0.2, unit: 'ms', op: '<=' }))
      }
    }
    if ((tier === 'thread' || tier === 'process') && warmHttp) {
      out.push(target({ id: `${tier}-${fn}-warm-http-0.2ms`, text: `${g}: warm pool over HTTP p50 < 0.2 ms`, value: p50Us(warmHttp) / 1000, limit: 0.2, unit: 'ms', op: '<=' }))
      const fresh = find(rows, g, 'instance-cold in-process (no spare)')
      if (fresh?.ratio !== undefined) out.push(target({ id: `${tier}-${fn}-new-1.2x`, text: `${g}: new sandbox, no spare ready, <= 1.2x the bare ${tier === 'thread' ? 'Worker spawn' : 'fork'}`, value: fresh.ratio, limit: 1.2, unit: 'ratio', op: '<=' }))
    }
    if (tier === 'container') {
      if (cold?.ratio !== undefined) out.push(target({ id: `container-${fn}-oneshot-1.3x`, text: `${g}: one-shot cold start (spawn + invoke) <= 1.3x bare crun run`, value: cold.ratio, limit: 1.3, unit: 'ratio', op: '<=' }))
      const ahead = find(rows, g, 'warm in-process')
      if (ahead) out.push(target({ id: `container-${fn}-ahead-10ms`, text: `${g}: call on a container created ahead p50 < 10 ms`, value: p50Us(ahead) / 1000, limit: 10, unit: 'ms', op: '<=' }))
    }
  }
  return out
}
