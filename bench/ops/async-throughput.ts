// Asynchronous calls per second: accepted (202s) and completed (callbacks received) for a trivial
// function, with a callback server on loopback in this process and kindling in a child process.
//   node --import tsx bench/ops/async-throughput.ts [calls=5000] [clients=32] [tier=wasm]
// The worker runs KINDLING_ASYNC_CONCURRENCY calls at once (default 16, as configured).
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { REPO_ROOT } from '../../runtime/index.js'
import { environmentLine, environmentRecord } from '../lib/env.js'
import { percentile } from '../lib/stats.js'
import { deploy, serve } from './server.js'

const calls = Number(process.argv[2] ?? 5000)
const clients = Number(process.argv[3] ?? 32)
const tier = process.argv[4] ?? 'wasm'

async function main(): Promise<void> {
  const env = environmentRecord(REPO_ROOT, `node --import tsx bench/ops/async-throughput.ts ${calls} ${clients} ${tier}`)
  const acceptedAt = new Map<string, number>()
  const doneAt = new Map<string, number>()
  let duplicates = 0
  let notOk = 0
  let allDone: () => void = () => {}
  const finished = new Promise<void>((r) => (allDone = r))
  const cb = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const id = req.headers['x-call-id'] as string
      if (doneAt.has(id)) duplicates++
      else doneAt.set(id, performance.now())
      if (req.headers['x-function-status'] !== '200') notOk++
      res.writeHead(200).end()
      if (doneAt.size === calls) allDone()
    })
  })
  await new Promise<void>((r) => cb.listen(0, '127.0.0.1', () => r()))
  const callbackUrl = `http://127.0.0.1:${(cb.address() as AddressInfo).port}/done`

  const s = await serve({ KINDLING_SPARE_APP_HOSTS: '0', KINDLING_CALLBACK_ALLOW: '127.0.0.1' }, clients)
  try {
    await deploy(s, { service: 'noop', labels: { 'com.kindling.isolation': tier } }, fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', 'noop.wasm')))
    // warm: the function and the HTTP connections
    for (let i = 0; i < 50; i++) await s.request('POST', '/function/noop')
    // baseline in the same run: synchronous calls per second from the same clients
    let nextSync = 0
    const ts = performance.now()
    await Promise.all(Array.from({ length: clients }, async () => {
      while (nextSync < calls) {
        nextSync++
        await s.request('POST', '/function/noop')
      }
    }))
    const syncPerSecond = calls / ((performance.now() - ts) / 1000)
    const t0 = performance.now()
    let next = 0
    let refused = 0
    const client = async () => {
      while (next < calls) {
        next++
        const r = await s.request('POST', '/async-function/noop', { headers: { 'x-callback-url': callbackUrl } })
        if (r.status !== 202) {
          refused++
          continue
        }
        acceptedAt.set(r.headers['x-call-id'] as string, performance.now())
      }
    }
    await Promise.all(Array.from({ length: clients }, client))
    const tAccepted = performance.now()
    const deadline = setTimeout(() => allDone(), 300_000)
    await finished
    clearTimeout(deadline)
    const tDone = performance.now()

    const acceptSeconds = (tAccepted - t0) / 1000
    const doneSeconds = (tDone - t0) / 1000
    const latencies = [...doneAt].map(([id, t]) => t - acceptedAt.get(id)!).filter((x) => Number.isFinite(x))
    const result = {
      calls,
      clients,
      tier,
      syncPerSecond,
      acceptedPerSecond: acceptedAt.size / acceptSeconds,
      completedPerSecond: doneAt.size / doneSeconds,
      acceptSeconds,
      completeSeconds: doneSeconds,
      refused,
      delivered: doneAt.size,
      duplicates,
      notOk,
      acceptToCallbackMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    }
    console.log(environmentLine(env))
    console.log(`async throughput: ${calls} calls to a no-op function (${tier} tier) from ${clients} keep-alive clients, callbacks to a loopback server\n`)
    console.log(`sync       ${calls} POST /function/noop = ${Math.round(syncPerSecond)} calls/s (baseline, same clients)`)
    console.log(`accepted   ${acceptedAt.size} in ${acceptSeconds.toFixed(2)} s = ${Math.round(result.acceptedPerSecond)} calls/s (202 answers; ${refused} refused)`)
    console.log(`completed  ${doneAt.size} in ${doneSeconds.toFixed(2)} s from the first POST = ${Math.round(result.completedPerSecond)} calls/s (callbacks received; ${duplicates} duplicates, ${notOk} not 200)`)
    console.log(`accept -> callback latency p50 ${result.acceptToCallbackMs.p50.toFixed(0)} ms, p99 ${result.acceptToCallbackMs.p99.toFixed(0)} ms (queueing included: acceptance outpaces the worker)`)
    const out = path.join(REPO_ROOT, 'bench', 'results', 'ops-async-throughput-latest.json')
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, JSON.stringify({ kind: 'kindling-ops-async-throughput', environment: env, result }, null, 2) + '\n')
    console.log(`\nwritten: ${path.relative(REPO_ROOT, out)}`)
  } finally {
    await s.stop()
    cb.closeAllConnections()
    cb.close()
  }
}

await main()
