// R8 (SAND ATC'18, §6): function interaction latency, F1 calling F2. SAND's local message bus
// short-cuts calls between functions on the same host; the comparison is a platform whose calls
// go through its front door (OpenWhisk). Here both paths start in the same caller function
// (functions/c/call-timer.c, wasm tier, in a gateway): the local path is kindling.call (the callee
// runs in the caller's app host, no IPC), the global path a POST to the gateway's /function/ URL
// with the outbound HTTP import. The callee is the same function (echo) on both paths, warm and
// cold; the caller times each call itself. The per-tier kindling.call rows come from the bench's
// chain scope.
import fs from 'node:fs'
import path from 'node:path'
import { timeRow } from '../../bench/lib/cases.js'
import { BENCH_FUNCTIONS, wasmPath } from '../../bench/lib/functions.js'
import { Gateway } from '../../bench/lib/gateway.js'
import { buildRequest, Http1Connection } from '../../bench/lib/http1.js'
import { cite, published } from '../published.js'
import { find, mdTable, measured, ratio, ratioOf } from '../report/markdown.js'
import { emptyData, type Experiment, type Measured } from './types.js'

const COLD = { 'com.kindling.reset': 'reinstantiate', 'com.kindling.prewarm': 'false' }

/** The per-call times (ns) call-timer answered with, in µs; throws on its ERROR line. */
export function callTimes(body: string): number[] {
  const line = body.trim()
  if (!line.startsWith('OK ')) throw new Error(`call-timer answered: ${line.slice(0, 300)}`)
  return line.slice(3).split(' ').map((x) => Number(x) / 1000)
}

/** The four cells of R8's table: path x callee, each a first line for call-timer. */
export function interactionCells(gatewayUrl: URL): { key: string; label: string; head: (n: number) => string }[] {
  const url = (fn: string) => new URL(`/function/${fn}`, gatewayUrl).href
  return [
    { key: 'local:warm', label: 'local: kindling.call to echo (warm: instance restored from its snapshot)', head: (n) => `local r8-echo ${n}` },
    { key: 'local:cold', label: 'local: kindling.call to echo, a new instance per call', head: (n) => `local r8-echo-cold ${n}` },
    { key: 'global:warm', label: 'global: POST /function/ through the gateway to echo (warm)', head: (n) => `global ${url('r8g-echo')} ${n}` },
    { key: 'global:cold', label: 'global: POST /function/ through the gateway to echo, a new instance per call', head: (n) => `global ${url('r8g-echo-cold')} ${n}` },
  ]
}

export const r8: Experiment = {
  id: 'R8',
  title: 'Function-to-function calls',
  origin: 'SAND (ATC\'18), §6: function interaction latency, warm and cold',
  async run(ctx) {
    const data = emptyData('R8')
    const chain = await ctx.scope('chain')
    const put = (key: string, label: string, r: { unit: Measured['unit']; n: number; p50: number; p99?: number; mean?: number; ci95?: [number, number] } | undefined, rounds?: number) => {
      if (r) data.rows.push({ key, label, system: 'kindling', unit: r.unit, n: r.n, p50: r.p50, p99: r.p99, mean: r.mean, ci95: r.ci95, rounds })
    }
    for (const tier of ['inline', 'wasm', 'thread', 'process']) put(`chain:${tier}`, `${tier} tier: kindling.call to echo`, chain.rows.find((r) => r.group === `${tier}: chain -> echo` && r.name.startsWith('one chained call')))
    put('http:chain', 'POST /function/chain (makes one kindling.call to echo)', chain.rows.find((r) => r.name.startsWith('POST /function/chain')))
    put('http:echo-warm', 'POST /function/echo through the gateway (warm), from a client outside kindling', chain.rows.find((r) => r.name === 'POST /function/echo directly'))
    data.notes.push(...chain.notes.filter((n) => n.includes('does not reach')))
    if (chain.status !== 'ok') data.skipped.push(`chain scope: ${chain.status} ${chain.reason ?? ''}`)

    // both paths from one caller function: call-timer, in a gateway of its own
    const dir = path.join(ctx.workDir, 'gateway')
    fs.mkdirSync(dir, { recursive: true })
    const gw = await Gateway.start(dir, { spareAppHosts: 1 })
    let conn: Http1Connection | undefined
    try {
      const echo = fs.readFileSync(wasmPath(ctx.repoRoot, BENCH_FUNCTIONS.find((f) => f.name === 'echo')!))
      const origin = `http://${gw.url.hostname}:${gw.url.port}`
      // the caller and the local callees are one application (kindling.call finds only those);
      // the global callees are another, in an app host of their own: the caller's host blocks in
      // the outbound import while it waits, so a callee there could not run until it returned
      await gw.deploy('r8-caller', { wasm: fs.readFileSync(path.join(ctx.repoRoot, 'functions', 'dist', 'call-timer.wasm')), labels: { 'com.kindling.app': 'r8' }, annotations: { 'com.kindling.outbound': origin } })
      await gw.deploy('r8-echo', { wasm: echo, labels: { 'com.kindling.app': 'r8' } })
      await gw.deploy('r8-echo-cold', { wasm: echo, labels: { 'com.kindling.app': 'r8', ...COLD } })
      await gw.deploy('r8g-echo', { wasm: echo, labels: { 'com.kindling.app': 'r8-global' } })
      await gw.deploy('r8g-echo-cold', { wasm: echo, labels: { 'com.kindling.app': 'r8-global', ...COLD } })
      conn = await Http1Connection.open(gw.url)
      const c = conn
      const cells = interactionCells(gw.url)
      const ask = async (head: string) => {
        const r = await c.request(buildRequest(gw.url, 'POST', '/function/r8-caller', Buffer.from(`${head}\nhello`), { 'content-type': 'text/plain' }))
        if (r.status !== 200) throw new Error(`r8-caller: ${r.status} ${r.body.toString().slice(0, 300)}`)
        return callTimes(r.body.toString())
      }
      const perRequest = ctx.quick ? 10 : 50
      const rounds = Number(ctx.options['rounds'] ?? (ctx.quick ? 3 : 40))
      for (let i = 0; i < 3; i++) for (const cell of cells) await ask(cell.head(perRequest))
      // the gateway records the global callees' calls: were the cold ones made a new instance each?
      for (const fn of ['r8g-echo', 'r8g-echo-cold']) await gw.record(fn)
      const blocks = new Map<string, number[][]>(cells.map((x) => [x.key, []]))
      ctx.progress.step(`one caller, two paths, warm and cold callee: ${rounds} rounds x ${perRequest} calls per cell`)
      for (let r = 0; r < rounds && !ctx.shouldStop(); r++) {
        // a different order of the four cells in each round
        const order = [...cells].sort(() => Math.random() - 0.5)
        for (const cell of order) blocks.get(cell.key)!.push(await ask(cell.head(perRequest)))
        ctx.progress.tick(r + 1, rounds)
      }
      for (const fn of ['r8g-echo', 'r8g-echo-cold']) {
        const t = (await gw.take(fn)).timings.filter((x) => x !== null)
        const fresh = t.filter((x) => x.instantiateUs > 0).length
        data.notes.push(`${fn} (global callee, ${fn.endsWith('cold') ? 'cold' : 'warm'}): ${fresh} of its ${t.length} timed calls made a new instance on the critical path`)
      }
      for (const cell of cells) {
        const b = blocks.get(cell.key)!
        if (b.length) put(cell.key, cell.label, timeRow('r8', cell.key, b.flat(), b), b.length)
      }
      data.method.push(
        `one caller function, call-timer (functions/c/call-timer.c, wasm32-wasi, wasm tier, application r8), deployed in a gateway of its own and granted its gateway's origin (com.kindling.outbound ${origin}); asked over HTTP to make ${perRequest} calls in a row on one path to one callee, it times each call itself with the monotonic clock, from just before the kindling import is called to just after it returns (so the time includes the callee's run, an echo of 5 bytes, and none of the request that asked for it); ${rounds} rounds, the four cells once per round in a shuffled order, after 3 untimed requests of each; median, p99 and a 95% CI over rounds`,
        'local path: kindling.call("r8-echo") (the callee in the caller\'s app host, no IPC); global path: kindling.http_request POST http://127.0.0.1:<gateway port>/function/r8g-echo (outbound helper thread, a new loopback TCP connection per request, the gateway, then the callee\'s app host over its socket)',
        'the callee is the same module (echo, AssemblyScript) in all four cells; warm: default labels (memory restored from the snapshot after each call, off the critical path); cold: deployed with com.kindling.reset=reinstantiate com.kindling.prewarm=false, so each call makes a new instance on its critical path. The global callees are deployed in another application (r8-global) because the caller\'s app host is blocked in the outbound call while it waits',
        'SAND\'s metric is F2\'s start minus F1\'s end; here it is the time one call takes as the caller sees it, which includes F2\'s run (an echo: a few µs)',
        'per-tier kindling.call rows: bench scope `chain`, the caller\'s run time (reported by the sandbox) with two calls minus with one, order alternating',
      )
    } finally {
      conn?.close()
      await gw.stop()
    }
    if (!data.rows.length) data.status = 'failed'
    return data
  },
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const lw = row('local:warm')
    const lc = row('local:cold')
    const gw = row('global:warm')
    const gc = row('global:cold')
    const tiers = ['inline', 'wasm', 'thread', 'process'].map((t) => row(`chain:${t}`)).filter((x) => !!x)
    const md = [
      'SAND\'s second mechanism is its hierarchical message bus: when one function calls another on the same host, the call goes over a local bus instead of through the platform\'s front door, and the paper measures the time between the end of the first function and the start of the second. kindling goes further for functions of one application: kindling.call runs the callee synchronously in the caller\'s own app host, on a sandbox of its own (its own instance and memory), with no IPC at all. The price is isolation between the two: they share a process (an application is kindling\'s trust boundary).',
      '',
      'The two kinds of ratio below are not the same comparison. SAND\'s compare **two platforms** (OpenWhisk or Greengrass against SAND, each with its own sandboxes, bus and front door); kindling\'s compare **two paths inside one platform**, with the same sandboxes on both. All four cells are measured from the same caller function (call-timer, wasm tier), which times each call itself, to the same callee function (echo): the local path is kindling.call; the global path is an HTTP POST from the function, through kindling\'s outbound HTTP import, to the gateway\'s /function/ URL, as a function that calls another through the front door would. Warm: the callee\'s instance is ready; cold: the callee makes a new instance for every call. kindling\'s cold is a new wasm instance in a running app host on both paths, not a new container as OpenWhisk\'s cold path starts.',
      '',
      mdTable(['path (caller: call-timer, wasm tier)', 'warm callee', 'cold callee (new instance per call)'], [
        ['kindling, local: kindling.call in the app host', measured(lw), measured(lc)],
        ['kindling, global: POST /function/ through the gateway, from the function', measured(gw), measured(gc)],
        ['kindling: global / local (two paths in one platform)', ratio(ratioOf(gw, lw)), ratio(ratioOf(gc, lc))],
        ['SAND (published): OpenWhisk / SAND (two platforms)', cite(published('sand.interaction.warm.openwhisk')), cite(published('sand.interaction.cold.openwhisk'))],
        ['SAND (published): AWS Greengrass / SAND (two platforms)', cite(published('sand.interaction.warm.greengrass')), cite(published('sand.interaction.cold.greengrass'))],
      ], ['l', 'r', 'r']),
      '',
      'What differs from SAND: SAND measures from the end of F1 to the start of F2 on its own bus; here a call is timed inside F1 from the import call to its return, so F2\'s run (an echo, a few µs) is in every cell; the global path opens a new loopback TCP connection per call (the outbound import keeps none), which a platform with pooled connections would not pay.',
      '',
      'kindling.call per tier (bench scope `chain`, warm callee, the caller\'s run time with two calls minus with one):',
      '',
      mdTable(['caller tier', 'one chained call: median [95% CI], p99'], tiers.map((t) => [t!.label, measured(t)]), ['l', 'r']),
      '',
      d.notes.some((n) => n.includes('does not reach')) ? `kindling.call found no callee from the ${[...new Set(d.notes.filter((n) => n.includes('does not reach')).map((n) => n.split(' tier')[0]))].join(' and ')} tier: the thread and process tiers run each sandbox in a thread or process of its own, with no other function in reach (kindling.call answers -4 there), so chains run on the wasm and inline tiers only.` : '',
      '',
      row('http:chain') ? `From a client outside kindling (chain scope), a request whose function makes one chained call takes ${measured(row('http:chain'))} end to end, against ${measured(row('http:echo-warm'))} for the callee called directly.` : '',
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
  disagreements(d) {
    const out: string[] = []
    const lc = find(d.rows, 'local:cold')
    const gc = find(d.rows, 'global:cold')
    const r = ratioOf(gc, lc)
    if (r !== undefined && r < 562 / 5) out.push(`(two paths inside kindling against two platforms in SAND, so a difference in kind, not a contradiction) cold, the gap between kindling's global and local paths (${ratio(r)}, R8's table, both from the same caller function) is far below SAND's 562x over OpenWhisk: a cold call through kindling's gateway still finds a running app host with the module compiled and only makes a new instance, whereas OpenWhisk's cold path starts a container. Both of kindling's paths pay the same instantiation; SAND's cold comparison measures container start-up.`)
    return out
  },
}
