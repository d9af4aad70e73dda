// Scope `chain` (issue 7, part 2; SAND's function interaction): one function calling another
// function of the same application through kindling.call (functions/assemblyscript/chain.ts,
// body "<callee> [times]\n<callee body>"). The cost of one chained call is taken inside the
// caller's sandbox from the run time kindling reports: run(times=2) - run(times=1), paired calls
// on the same sandbox; also the mean over many calls, and end to end over HTTP beside calling
// the callee directly.
import fs from 'node:fs'
import path from 'node:path'
import { BENCH_FUNCTIONS, wasmPath } from '../lib/functions.js'
import { Gateway } from '../lib/gateway.js'
import { buildRequest, Http1Connection } from '../lib/http1.js'
import { artifactFor, createInProcessTiers, invokeRequest, NEVER } from '../lib/inproc.js'
import { emptyResult, type Row, type ScopeContext, type ScopeResult, target } from '../lib/scope.js'
import { summarize } from '../lib/stats.js'
import { timeRow, p50Us } from '../lib/cases.js'
import type { Sandbox, TierName } from '../../isolation/index.js'

const CALLEE_BODY = 'hello'

interface Callee {
  name: string
  file: string
  expect: (s: string) => boolean
}

export async function run(ctx: ScopeContext): Promise<ScopeResult> {
  const chainFile = path.join(ctx.repoRoot, 'functions', 'dist', 'chain.wasm')
  if (!fs.existsSync(chainFile)) return emptyResult('chain', 'not-available', 'not available yet: functions/dist/chain.wasm (the kindling.call example) is not built')
  const result = emptyResult('chain', 'ok')
  const quick = ctx.quick
  const pairs = quick ? 50 : 1000
  const many = quick ? 50 : 1000
  const chain = fs.readFileSync(chainFile)
  const callees: Callee[] = [
    { name: 'echo', file: wasmPath(ctx.repoRoot, BENCH_FUNCTIONS.find((f) => f.name === 'echo')!), expect: (s) => s === CALLEE_BODY },
    { name: 'cat', file: path.join(ctx.repoRoot, 'functions', 'dist', 'cat.wasm'), expect: (s) => s === CALLEE_BODY },
  ]

  // ---- in-process: the tier API, timings from inside the caller's sandbox
  const inproc = await createInProcessTiers(path.join(ctx.workDir, 'chain-inproc'), { spareAppHosts: 0 })
  const sandboxes: Sandbox[] = []
  try {
    for (const [name, tier] of inproc.tiers) {
      if (!tier.capabilities.artifactKinds.includes('wasm-module') || tier.unavailableReason()) continue
      if (ctx.shouldStop()) break
      const app = `chain-${name}`
      const prep = (fn: string, bytes: Buffer) => tier.prepare(artifactFor(inproc.dataDir, { name: `${fn}-${name}`, tier: name as TierName, app, wasm: bytes }))
      const caller = await prep('chain', chain)
      for (const c of callees) sandboxes.push(await tier.spawn(await prep(c.name, fs.readFileSync(c.file)), { sandboxId: `chain-${name}-${c.name}` }))
      const sb = await tier.spawn(caller, { sandboxId: `chain-${name}-caller` })
      sandboxes.push(sb)
      const call = async (body: string) => {
        const r = await sb.invoke(invokeRequest(Buffer.from(body)), NEVER)
        await new Promise((res) => setImmediate(res))
        return r
      }
      for (const c of callees) {
        const callee = `${c.name}-${name}`
        const probe = await call(`${callee} 1\n${CALLEE_BODY}`)
        if (!c.expect(probe.body.toString())) {
          result.notes.push(`${name} tier: chain -> ${c.name} answered ${JSON.stringify(probe.body.toString().slice(0, 80))}: kindling.call does not reach other functions on this tier`)
          continue
        }
        ctx.progress.step(`${name}: chain -> ${c.name}, ${pairs} pairs`)
        const single: number[] = []
        const meanOfMany: number[] = []
        for (let i = 0; i < 20; i++) await call(`${callee} 2\n${CALLEE_BODY}`)
        for (let i = 0; i < pairs; i++) {
          // alternate which of the pair goes first, so drift within a pair cancels
          const first = i % 2 === 0
          const a = await call(`${callee} ${first ? 1 : 2}\n${CALLEE_BODY}`)
          const b = await call(`${callee} ${first ? 2 : 1}\n${CALLEE_BODY}`)
          const one = first ? a : b
          const two = first ? b : a
          if (one.timings && two.timings) single.push(two.timings.runUs - one.timings.runUs)
          if (i % Math.max(1, Math.floor(pairs / 20)) === 0) {
            const k = await call(`${callee} ${many + 1}\n${CALLEE_BODY}`)
            if (k.timings && one.timings) meanOfMany.push((k.timings.runUs - one.timings.runUs) / many)
          }
          ctx.progress.tick(i + 1, pairs)
        }
        const group = `${name}: chain -> ${c.name}`
        result.rows.push(
          timeRow(group, 'one chained call (run with 2 calls - run with 1, same sandbox)', single),
          timeRow(group, `mean chained call (over ${many} calls in one run)`, meanOfMany),
        )
        const one = result.rows[result.rows.length - 2]!
        if (name === 'wasm' || name === 'inline') {
          result.targets.push(target({ id: `chain-${name}-${c.name}-20us`, text: `${group}: a function calling another function of the same application, p50 < 20 us`, value: p50Us(one), limit: 20, unit: 'us', op: '<=' }))
        }
      }
    }
  } finally {
    await Promise.all(sandboxes.map((s) => s.dispose('shutdown').catch(() => {})))
    await inproc.close()
  }

  // ---- over HTTP: a request that makes one chained call, beside the callee called directly
  if (!ctx.shouldStop()) {
    const gw = await Gateway.start(path.join(ctx.workDir, 'chain-gateway'), { spareAppHosts: 0 })
    const conn = await Http1Connection.open(gw.url)
    try {
      const labels = { 'com.kindling.app': 'chain-http' }
      await gw.deploy('chain', { wasm: chain, labels })
      await gw.deploy('echo', { wasm: fs.readFileSync(callees[0]!.file), labels })
      const viaChain = buildRequest(gw.url, 'POST', '/function/chain', Buffer.from(`echo 1\n${CALLEE_BODY}`), { 'content-type': 'text/plain' })
      const direct = buildRequest(gw.url, 'POST', '/function/echo', Buffer.from(CALLEE_BODY), { 'content-type': 'text/plain' })
      const n = quick ? 100 : 2000
      const a: number[] = []
      const b: number[] = []
      ctx.progress.step(`http: chain -> echo and echo directly, ${n} each, interleaved`)
      for (let i = 0; i < n + 50; i++) {
        const r1 = await conn.request(viaChain)
        const r2 = await conn.request(direct)
        if (r1.body.toString() !== CALLEE_BODY || r2.body.toString() !== CALLEE_BODY) throw new Error(`unexpected answers: ${r1.status} ${r1.body.toString().slice(0, 80)} / ${r2.status}`)
        if (i >= 50) {
          a.push(r1.us)
          b.push(r2.us)
        }
        ctx.progress.tick(i + 1, n + 50)
      }
      const rows: Row[] = [timeRow('wasm over http', 'POST /function/chain (one chained call to echo)', a), timeRow('wasm over http', 'POST /function/echo directly', b)]
      rows.push({ group: 'wasm over http', name: 'difference of p50s (the caller and its one call)', unit: 'us', n: Math.min(a.length, b.length), p50: summarize(a).p50 - summarize(b).p50 })
      result.rows.push(...rows)
    } finally {
      conn.close()
      await gw.stop()
    }
  }
  result.notes.push(
    'in-process: the tier API (tier.spawn, sandbox.invoke); the run time is what the sandbox reports (timings.runUs), so IPC to the app host is not in it',
    'SAND (ATC\'18): function interaction 8.32x faster than OpenWhisk warm; this is the same-process path taken to its limit (no bus, no IPC)',
  )
  return result
}
