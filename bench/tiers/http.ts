// Warm invocation over HTTP on loopback: a real kindling gateway in this process, the noop
// function deployed on each tier, and a client in a worker thread (its own event loop, as an
// outside client would have) sending one request at a time on one keep-alive connection. The
// gateway's /healthz (a trivial fastify route) is measured the same way as the HTTP floor.
import fs from 'node:fs'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { createKindling, loadConfig, REPO_ROOT } from '../../runtime/index.js'
import { type Summary, summarize } from './stats.js'

const CLIENT = `
const http = require('node:http')
const { parentPort, workerData } = require('node:worker_threads')
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
const { url, paths, warmup, n } = workerData
const one = (p) => new Promise((resolve, reject) => {
  const req = http.request(url + p, { method: p === '/healthz' ? 'GET' : 'POST', agent, headers: { 'content-type': 'text/plain', 'content-length': 0 } }, (res) => {
    res.on('data', () => {})
    res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(p + ': HTTP ' + res.statusCode))))
  })
  req.on('error', reject)
  req.end()
})
;(async () => {
  const out = {}
  for (const p of paths) {
    for (let i = 0; i < warmup; i++) await one(p)
    const us = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await one(p)
      us.push((performance.now() - t0) * 1000)
    }
    out[p] = us
  }
  agent.destroy()
  parentPort.postMessage(out)
})().catch((e) => parentPort.postMessage({ error: String(e) }))
`

export async function measureHttp(dataDir: string, tiers: string[], n: number): Promise<Record<string, Summary>> {
  const config = loadConfig({}, { dataDir: path.join(dataDir, 'gateway'), port: 0, host: '127.0.0.1', deployExamples: false, spareAppHosts: 1, logLevel: 'warn' })
  const k = await createKindling(config)
  try {
    const auth = k.credentials ? { authorization: `Basic ${Buffer.from(`${k.credentials.user}:${k.credentials.password}`).toString('base64')}` } : {}
    const bytes = fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', 'noop.wasm'))
    const up = await k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { ...auth, 'content-type': 'application/wasm' }, payload: bytes })
    const image = (up.json() as { image: string }).image
    for (const t of tiers) {
      const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: auth, payload: { service: `noop-${t}`, image, labels: { 'com.kindling.isolation': t } } })
      if (res.statusCode !== 202) throw new Error(`deploy on ${t}: ${res.statusCode} ${res.body}`)
    }
    for (const t of tiers) {
      const end = Date.now() + 60_000
      while ((k.dispatcher.get(`noop-${t}`, config.defaultNamespace)?.pool?.stats.available ?? 0) < 1) {
        if (Date.now() > end) throw new Error(`noop-${t} did not get a warm sandbox`)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    const url = await k.listen()
    const paths = ['/healthz', ...tiers.map((t) => `/function/noop-${t}`)]
    const samples = await new Promise<Record<string, number[]>>((resolve, reject) => {
      const w = new Worker(CLIENT, { eval: true, workerData: { url, paths, warmup: Math.min(500, n), n } })
      w.once('message', (m: Record<string, number[]> & { error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m)))
      w.once('error', reject)
    })
    const out: Record<string, Summary> = {}
    for (const [p, us] of Object.entries(samples)) out[p === '/healthz' ? 'floor' : p.slice('/function/noop-'.length)] = summarize(us)
    return out
  } finally {
    await k.close()
  }
}
