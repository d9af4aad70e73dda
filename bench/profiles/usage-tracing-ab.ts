// Issue 13 (usage, tracing): what the new per-call work costs. In-process, medians of ns per
// operation over alternating rounds: the usage record of a call, the tracer's start without a
// collector (no traceparent: the common case; with one: checked and continued), start+end with a
// collector (the span pushed into the bounded queue), and the app host's two process.cpuUsage()
// reads around a call. Then warm wasm calls over loopback HTTP without and with
// KINDLING_OTLP_ENDPOINT (a local receiver), alternating, sequential (one client).
//   node dist/bench/profiles/usage-tracing-ab.js [--rounds 9] [--calls 2000]
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createKindling, loadConfig, OtlpExporter, REPO_ROOT, Tracer, UsageMeter } from '../../runtime/index.js'
import { median } from '../lib/stats.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' }, calls: { type: 'string', default: '2000' } } })
const rounds = Number(values.rounds)
let sink = 0

function nsPerOp(f: (i: number) => void, n = 200_000): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) f(i)
  return Number(process.hrtime.bigint() - t0) / n
}

const meter = new UsageMeter(undefined, { flushMs: 0, retentionMs: 0 })
const fu = meter.forFunction('echo.openfaas-fn')
const off = new Tracer(undefined)
const exporter = new OtlpExporter({ endpoint: 'http://127.0.0.1:9', maxQueue: 1 << 30, batchSize: 1 << 30, flushMs: 1e9, timeoutMs: 1000, serviceName: 'ab' })
const on = new Tracer(exporter)
const req = (tp?: string) => ({ callId: 'c', method: 'POST', path: '/', query: '', headers: tp ? { traceparent: tp } : ({} as Record<string, string>), body: Buffer.alloc(0) })
const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
const cases: Record<string, (i: number) => void> = {
  'usage record': (i) => fu.record(1000 + i, 50, 128 * 1024 * 1024, 5, 5),
  'tracer, no collector, no traceparent': () => void (sink += off.start(req()) ? 1 : 0),
  'tracer, no collector, traceparent': () => void (sink += off.start(req(TP)) ? 1 : 0),
  'tracer, collector: start+end': () => {
    const r = req()
    const s = on.start(r)!
    on.end(s, 'echo.openfaas-fn', 'wasm', 'c', 200, undefined, undefined)
  },
  'empty request object (baseline)': () => void (sink += req().body.length),
  'process.cpuUsage() x2': () => {
    const c0 = process.cpuUsage()
    sink += process.cpuUsage(c0).user
  },
}
const results: Record<string, number[]> = {}
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(cases)) {
    ;(results[name] ??= []).push(nsPerOp(f, name.startsWith('tracer, collector') ? 20_000 : 200_000))
  }
  // the collector case keeps every span: empty its queue between rounds
  ;(exporter as unknown as { queue: unknown[] }).queue.length = 0
}
for (const [name, v] of Object.entries(results)) console.log(`${name.padEnd(40)} ${median(v).toFixed(0).padStart(6)} ns`)
await exporter.close().catch(() => {})

// end to end: warm calls over loopback, without and with a collector
const receiver = http.createServer((q, s) => q.resume().on('end', () => s.end('{}')))
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
const otlpUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
async function gateway(otlpEndpoint: string) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-ab-'))
  const k = await createKindling(loadConfig({}, { dataDir, port: 0, deployExamples: false, basicAuth: false, spareAppHosts: 0, otlpEndpoint }))
  const url = await k.listen()
  const img = await k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, payload: fs.readFileSync(path.join(REPO_ROOT, 'functions/dist/echo.wasm')) })
  await k.app.inject({ method: 'POST', url: '/system/functions', payload: { service: 'echo', image: img.json().image } })
  return { k, url, dataDir }
}
const call = (url: string) => new Promise<void>((resolve, reject) => {
  const r = http.request(`${url}/function/echo`, { method: 'POST', agent }, (res) => res.resume().on('end', resolve))
  r.on('error', reject)
  r.end('hello')
})
const gw = { A: await gateway(''), B: await gateway(otlpUrl) }
for (const g of Object.values(gw)) for (let i = 0; i < 300; i++) await call(g.url)
const perCall: Record<string, number[]> = { A: [], B: [] }
for (let r = 0; r < rounds; r++) {
  for (const side of ['A', 'B'] as const) {
    const t0 = performance.now()
    for (let i = 0; i < Number(values.calls); i++) await call(gw[side].url)
    perCall[side].push(((performance.now() - t0) * 1000) / Number(values.calls))
  }
}
const ratio = perCall.A.map((a, i) => perCall.B[i]! / a)
console.log(`warm wasm call, no collector (A)        ${median(perCall.A).toFixed(1)} us`)
console.log(`warm wasm call, spans exported (B)      ${median(perCall.B).toFixed(1)} us   B/A median ${median(ratio).toFixed(3)} (rounds ${Math.min(...ratio).toFixed(3)}-${Math.max(...ratio).toFixed(3)})`)
for (const g of Object.values(gw)) {
  await g.k.close()
  fs.rmSync(g.dataDir, { recursive: true, force: true })
}
agent.destroy()
receiver.close()
void sink
