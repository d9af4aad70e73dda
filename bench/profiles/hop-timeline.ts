// Where a warm call's time goes at 1 connection, hop by hop (issue 17 item 3): CPU profiles show
// each process alone and mostly "idle"; this stamps the same call in the gateway and in its app
// host with one monotonic clock (CLOCK_MONOTONIC is shared by all processes) and prints the median
// of each step. The stamps are not in kindling's code: this copies the build to tmp/hop-timeline/
// and adds them to the copy by text, failing with the anchor's name if the code they hang on
// changed. One sequential keep-alive client (node:http) in this process; one call in flight.
//   npm run build && node dist/bench/profiles/hop-timeline.js [--tiers wasm,inline] [--calls 3000] [--rounds 3]
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { REPO_ROOT } from '../../runtime/index.js'
import { BENCH_FUNCTIONS, wasmPath } from '../lib/functions.js'
import type { Gateway as GatewayT } from '../lib/gateway.js'

const { values } = parseArgs({ options: { tiers: { type: 'string', default: 'wasm,inline' }, calls: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '3' } } })

const NOW = 'Number(process.hrtime.bigint()) / 1000'
/** file in dist/ -> [anchor, text put right after it] */
const STAMPS: Record<string, [string, string][]> = {
  'runtime/gateway/server.js': [['guardConnections(app.server, deps.connections);', ` app.server.prependListener("request", () => { globalThis.__hopG0 = ${NOW}; });`]],
  'runtime/gateway/routes/invoke.js': [
    ['const started = performance.now();', ` const __hop = globalThis.__hopRec = { url: req.url, g0: globalThis.__hopG0, g1: ${NOW} };`],
    [
      'res.end(req.method === "HEAD" ? void 0 : result.body);',
      ` __hop.g5 = ${NOW}; (globalThis.__hopRecords ??= []).push(__hop); if (!globalThis.__hopExit) { globalThis.__hopExit = true; process.on("exit", () => require("node:fs").writeFileSync(process.env.KINDLING_HOP_TIMELINE_OUT, JSON.stringify(globalThis.__hopRecords))); }`,
    ],
  ],
  'isolation/apphost/host-process.js': [
    // each stamp once per call, in order: the gateway's other frames (STATS polls) must not move them
    ['const id = this.nextId++;', ` if (type === 4 && globalThis.__hopRec && globalThis.__hopRec.g2 === undefined) globalThis.__hopRec.g2 = ${NOW};`],
    ['this.socket.uncork();', ` if (globalThis.__hopRec?.g2 !== undefined && globalThis.__hopRec.g3 === undefined) globalThis.__hopRec.g3 = ${NOW};`],
    ['this.socket.on("data", (chunk) => {', ` if (globalThis.__hopRec?.g3 !== undefined && globalThis.__hopRec.g4 === undefined) globalThis.__hopRec.g4 = ${NOW};`],
    ['            p.resolve(f);', ` if (globalThis.__hopRec && f.meta?.__hop) [globalThis.__hopRec.a1, globalThis.__hopRec.a2] = f.meta.__hop;`],
  ],
  'isolation/apphost/host-main.js': [
    ['socket.on("data", (chunk) => {', ` globalThis.__hopA1 = ${NOW};`],
    ['const meta = { status: r.status,', ` __hop: [globalThis.__hopA1, ${NOW}],`],
  ],
}

/** the steps printed, in the order a call takes them */
const STEPS: [string, string, string][] = [
  ['g0', 'g1', 'gateway: request event -> invoke handler (fastify routing, hooks, body read)'],
  ['g1', 'g2', 'gateway: handler -> frame to the app host (request copy, pool, dispatcher)'],
  ['g2', 'g3', 'gateway: INVOKE frame encoded and written (writev wakes the app host)'],
  ['g3', 'a1', 'app host wakes, reads the frame'],
  ['a1', 'a2', 'app host: decode, run the instance, result meta'],
  ['a2', 'g4', 'app host writes RESULT (writev wakes the gateway), gateway reads it'],
  ['g4', 'g5', 'gateway: decode, pool release, metrics, answer written (writev wakes the client)'],
  ['g1', 'g5', 'gateway: handler -> answer written (whole call inside the handler)'],
]

function stampedCopy(): string {
  const root = path.join(REPO_ROOT, 'tmp', 'hop-timeline')
  fs.rmSync(root, { recursive: true, force: true })
  fs.mkdirSync(root, { recursive: true })
  fs.cpSync(path.join(REPO_ROOT, 'dist'), path.join(root, 'dist'), { recursive: true })
  for (const [file, edits] of Object.entries(STAMPS)) {
    const p = path.join(root, 'dist', file)
    let text = fs.readFileSync(p, 'utf8')
    for (const [anchor, add] of edits) {
      if (!text.includes(anchor)) throw new Error(`hop-timeline: ${file} no longer contains ${JSON.stringify(anchor)}; move the stamp to where that step is now`)
      text = text.replace(anchor, anchor + add)
    }
    // an ES module: the exit hook's require comes from here
    if (file.endsWith('invoke.js')) text = `import { createRequire as __hopRequire } from "node:module"; const require = __hopRequire(import.meta.url);\n${text}`
    fs.writeFileSync(p, text)
  }
  return root
}

function post(agent: http.Agent, url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'text/plain', 'content-length': 5 } }, (res) => {
      res.resume()
      res.on('end', resolve)
    })
    r.on('error', reject)
    r.end('hello')
  })
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN

const root = stampedCopy()
const { Gateway } = (await import(path.join(root, 'dist/bench/lib/gateway.js'))) as { Gateway: typeof GatewayT }
const out = path.join(root, 'records.json')
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-hop-'))
const gw = await Gateway.start(data, { spareAppHosts: 0 }, { env: { ...process.env, KINDLING_HOP_TIMELINE_OUT: out } })
const tiers = values.tiers!.split(',')
const echo = fs.readFileSync(wasmPath(REPO_ROOT, BENCH_FUNCTIONS.find((f) => f.name === 'echo')!))
const client: Record<string, number[]> = {}
try {
  for (const t of tiers) await gw.deploy(`echo-${t}`, { wasm: echo, labels: { 'com.kindling.isolation': t } })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const t of tiers) {
      const url = new URL(`/function/echo-${t}`, gw.url)
      for (let i = 0; i < 300; i++) await post(agent, url)
      for (let i = 0; i < Number(values.calls); i++) {
        const t0 = performance.now()
        await post(agent, url)
        ;(client[t] ??= []).push((performance.now() - t0) * 1000)
      }
    }
  }
  agent.destroy()
} finally {
  await gw.stop()
  fs.rmSync(data, { recursive: true, force: true })
}

type Rec = Record<string, number | string | undefined>
const missing: string[] = []
const records = JSON.parse(fs.readFileSync(out, 'utf8')) as Rec[]
console.log(`hop timeline, echo, 1 connection, ${values.rounds} rounds x ${values.calls} calls (warm-up dropped), load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; medians in us`)
for (const t of tiers) {
  // the warm-up calls of each round are recorded too: keep the last `calls` of each round's block
  const mine = records.filter((r) => r.url === `/function/echo-${t}`)
  const per = Number(values.calls) + 300
  const kept = mine.filter((_, i) => i % per >= 300)
  console.log(`\n${t}: client round trip p50 ${median(client[t]!).toFixed(1)} us`)
  for (const [a, b, what] of STEPS) {
    const xs = kept.filter((r) => typeof r[a] === 'number' && typeof r[b] === 'number').map((r) => (r[b] as number) - (r[a] as number))
    if (xs.length) console.log(`  ${`${a} -> ${b}`.padEnd(9)} ${median(xs).toFixed(1).padStart(7)}  ${what}`)
    // a stamp whose anchor is still there but no longer on the call's path leaves its steps empty
    else if (t === 'wasm' || a + b === 'g0g1' || a + b === 'g1g5') missing.push(`${t}: ${a} -> ${b}`)
  }
}
if (missing.length) {
  console.error(`hop-timeline: no samples for ${missing.join(', ')}: a stamp is no longer on the call's path`)
  process.exitCode = 1
}
