// R8 (SAND ATC'18, §6): function interaction latency, F1 calling F2. SAND's local message bus
// short-cuts calls between functions on the same host; the comparison is a platform whose calls
// go through its front door (OpenWhisk). kindling's local path is kindling.call (the callee runs
// in the caller's app host, no IPC); its global path is an HTTP call through the gateway. Warm
// rows come from the bench's chain scope; this module adds a callee that needs a new instance
// per call (cold) with the chain scope's method, and takes the cold HTTP call from coldstart.
import fs from 'node:fs'
import path from 'node:path'
import { timeRow } from '../../bench/lib/cases.js'
import { BENCH_FUNCTIONS, wasmPath } from '../../bench/lib/functions.js'
import { artifactFor, createInProcessTiers, invokeRequest, NEVER } from '../../bench/lib/inproc.js'
import type { Sandbox } from '../../isolation/index.js'
import { cite, published } from '../published.js'
import { find, mdTable, measured, ratio, ratioOf } from '../report/markdown.js'
import { emptyData, type Experiment, type Measured } from './types.js'

const COLD = { 'com.kindling.reset': 'reinstantiate', 'com.kindling.prewarm': 'false' }

export const r8: Experiment = {
  id: 'R8',
  title: 'Function-to-function calls',
  origin: 'SAND (ATC\'18), §6: function interaction latency, warm and cold',
  async run(ctx) {
    const data = emptyData('R8')
    const chain = await ctx.scope('chain')
    const put = (key: string, label: string, r: { unit: Measured['unit']; n: number; p50: number; p99?: number; ci95?: [number, number] } | undefined) => {
      if (r) data.rows.push({ key, label, system: 'kindling', unit: r.unit, n: r.n, p50: r.p50, p99: r.p99, ci95: r.ci95 })
    }
    for (const tier of ['inline', 'wasm', 'thread', 'process']) put(`chain:${tier}`, `${tier} tier: kindling.call to echo`, chain.rows.find((r) => r.group === `${tier}: chain -> echo` && r.name.startsWith('one chained call')))
    put('http:chain', 'POST /function/chain (makes one kindling.call to echo)', chain.rows.find((r) => r.name.startsWith('POST /function/chain')))
    put('http:echo-warm', 'POST /function/echo through the gateway (warm)', chain.rows.find((r) => r.name === 'POST /function/echo directly'))
    data.notes.push(...chain.notes.filter((n) => n.includes('does not reach')))
    if (chain.status !== 'ok') data.skipped.push(`chain scope: ${chain.status} ${chain.reason ?? ''}`)

    // the same pair method with a callee that instantiates on every call
    const inproc = await createInProcessTiers(path.join(ctx.workDir, 'r8'), { spareAppHosts: 0 })
    const sandboxes: Sandbox[] = []
    try {
      const tier = inproc.tiers.get('wasm')!
      const echo = fs.readFileSync(wasmPath(ctx.repoRoot, BENCH_FUNCTIONS.find((f) => f.name === 'echo')!))
      const prep = (name: string, bytes: Buffer, labels: Record<string, string> = {}) => tier.prepare(artifactFor(inproc.dataDir, { name, tier: 'wasm', app: 'r8', wasm: bytes, labels }))
      sandboxes.push(await tier.spawn(await prep('echo', echo), { sandboxId: 'r8-echo' }))
      sandboxes.push(await tier.spawn(await prep('echo-cold', echo, COLD), { sandboxId: 'r8-echo-cold' }))
      const caller = await tier.spawn(await prep('chain', fs.readFileSync(path.join(ctx.repoRoot, 'functions', 'dist', 'chain.wasm'))), { sandboxId: 'r8-chain' })
      sandboxes.push(caller)
      const call = async (body: string) => {
        const r = await caller.invoke(invokeRequest(Buffer.from(body)), NEVER)
        await new Promise((res) => setImmediate(res))
        if (r.body.toString() !== 'hello') throw new Error(`chain answered ${r.status} ${r.body.toString().slice(0, 100)}`)
        return r.timings?.runUs ?? NaN
      }
      const pairs = ctx.quick ? 50 : 1000
      const out: Record<string, number[]> = { echo: [], 'echo-cold': [] }
      for (let i = 0; i < 20; i++) for (const c of Object.keys(out)) await call(`${c} 2\nhello`)
      ctx.progress.step(`kindling.call, warm and cold callee: ${pairs} pairs each, interleaved`)
      for (let i = 0; i < pairs; i++) {
        for (const c of Object.keys(out)) {
          const first = i % 2 === 0
          const a = await call(`${c} ${first ? 1 : 2}\nhello`)
          const b = await call(`${c} ${first ? 2 : 1}\nhello`)
          out[c]!.push(first ? b - a : a - b)
        }
        ctx.progress.tick(i + 1, pairs)
      }
      const w = timeRow('r8', 'warm', out['echo']!)
      const c = timeRow('r8', 'cold', out['echo-cold']!)
      put('local:warm', 'kindling.call to echo, clean instance (snapshot restored)', w)
      put('local:cold', 'kindling.call to echo, new instance per call', c)
    } finally {
      await Promise.all(sandboxes.map((s) => s.dispose('shutdown').catch(() => {})))
      await inproc.close()
    }
    const cs = await ctx.scope('coldstart', { functions: 'noop', tiers: 'inline,wasm' })
    put('http:noop-cold', 'POST /function/noop through the gateway, new instance per call', cs.rows.find((r) => r.group === 'wasm / noop' && r.name === 'instance-cold http'))
    put('http:noop-warm', 'POST /function/noop through the gateway, warm', cs.rows.find((r) => r.group === 'wasm / noop' && r.name === 'warm http'))
    data.method.push(
      'one chained call = the caller\'s run time (reported by the sandbox, so no IPC and no HTTP is in it) with two kindling.call\'s minus with one, on the same sandbox, the order of the two runs alternating (bench scope `chain` for the per-tier warm rows, the same method here for the warm and cold callee, interleaved pair by pair, after 20 untimed pairs of each); median, p99 and a bootstrap 95% CI of the median over the pairs',
      'cold callee: deployed with com.kindling.reset=reinstantiate com.kindling.prewarm=false, so each kindling.call makes a new instance; warm callee: default labels (memory restored from the snapshot after each call, off the critical path)',
      'global path: a request through the gateway over HTTP on loopback, one keep-alive connection (chain scope for echo warm, coldstart scope for noop warm and new-instance); what a function calling another through the front door would pay at least',
      'SAND\'s metric is F2\'s start minus F1\'s end; here it is the time one call adds to the caller, which includes F2\'s run (an echo: a few µs)',
    )
    if (!data.rows.length) data.status = 'failed'
    return data
  },
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const lw = row('local:warm')
    const lc = row('local:cold')
    // the same function (noop) for the warm and the cold global row; echo only if noop did not run
    const gw = row('http:noop-warm') ?? row('http:echo-warm')
    const gc = row('http:noop-cold')
    const tiers = ['inline', 'wasm', 'thread', 'process'].map((t) => row(`chain:${t}`)).filter((x) => !!x)
    const md = [
      'SAND\'s second mechanism is its hierarchical message bus: when one function calls another on the same host, the call goes over a local bus instead of through the platform\'s front door, and the paper measures the time between the end of the first function and the start of the second. kindling goes further for functions of one application: kindling.call runs the callee synchronously in the caller\'s own app host, on a sandbox of its own (its own instance and memory), with no IPC at all. The price is isolation between the two: they share a process (an application is kindling\'s trust boundary).',
      '',
      'The two kinds of ratio below are not the same comparison. SAND\'s compare **two platforms** (OpenWhisk or Greengrass against SAND, each with its own sandboxes, bus and front door); kindling\'s compare **two paths inside one platform** (its front door against kindling.call), with the same sandboxes on both. kindling\'s warm and cold rows use the same function (noop; ' + (gw?.key === 'http:echo-warm' ? 'echo for warm: noop did not run' : 'the same on both paths') + '). The global path is measured from a client outside kindling on loopback, not from a function: a function calling the front door would add its own HTTP client on top, so the global row is a lower bound of that path.',
      '',
      mdTable(['path', 'warm', 'cold (new callee instance)'], [
        ['kindling, local: kindling.call in the app host (wasm tier)', measured(lw), measured(lc)],
        ['kindling, global: through the gateway over HTTP (wasm tier, from an outside client)', measured(gw), measured(gc)],
        ['kindling: global / local (two paths in one platform)', ratio(ratioOf(gw, lw)), ratio(ratioOf(gc, lc))],
        ['SAND (published): OpenWhisk / SAND (two platforms)', cite(published('sand.interaction.warm.openwhisk')), cite(published('sand.interaction.cold.openwhisk'))],
        ['SAND (published): AWS Greengrass / SAND (two platforms)', cite(published('sand.interaction.warm.greengrass')), cite(published('sand.interaction.cold.greengrass'))],
      ], ['l', 'r', 'r']),
      '',
      'kindling.call per tier (bench scope `chain`, warm callee):',
      '',
      mdTable(['caller tier', 'one chained call: median [95% CI], p99'], tiers.map((t) => [t!.label, measured(t)]), ['l', 'r']),
      '',
      d.notes.some((n) => n.includes('does not reach')) ? `kindling.call found no callee from the ${[...new Set(d.notes.filter((n) => n.includes('does not reach')).map((n) => n.split(' tier')[0]))].join(' and ')} tier (it answered -1, not found): in the bench's set-up the chain reaches other functions only from the wasm-instance tiers.` : '',
      '',
      row('http:chain') ? `End to end, a request whose function makes one chained call takes ${measured(row('http:chain'))} against ${measured(row('http:echo-warm'))} for the callee called directly.` : '',
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
  disagreements(d) {
    const out: string[] = []
    const lc = find(d.rows, 'local:cold')
    const gc = find(d.rows, 'http:noop-cold')
    const r = ratioOf(gc, lc)
    if (r !== undefined && r < 562 / 5) out.push(`(two paths inside kindling against two platforms in SAND, so a difference in kind, not a contradiction) cold, the gap between kindling's global and local paths (${ratio(r)}) is far below SAND's 562x over OpenWhisk: a cold call through kindling's gateway still finds a warm app host with the module compiled and only makes a new instance, whereas OpenWhisk's cold path starts a container. Both of kindling's paths pay the same instantiation; SAND's cold comparison measures container start-up.`)
    return out
  },
}
