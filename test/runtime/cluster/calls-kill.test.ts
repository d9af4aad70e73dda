// A worker killed (kill -9) under load: real `kindling serve` processes (3 workers, 2 gateways: one
// passing calls over direct HTTP, one over NATS) on a real nats-server. Calls land on every worker;
// the calls the dead worker had fail with KINDLING_ERR_WORKER_LOST (502) and nothing fails with
// anything else; once it has left the cluster, every call succeeds on the two others.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { NODE_HEADER } from '../../../runtime/cluster/calls/names.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'
import { type ServerProcess, startServerProcess } from '../../helpers/server-process.js'
import { sleeperModule } from '../ops/helpers.js'

const skip = natsServerUnavailable()
let nats: NatsServer
let dir: string
const workers: { srv: ServerProcess; dataDir: string; id: string }[] = []
const gateways: { srv: ServerProcess; transport: string }[] = []

const authOf = (dataDir: string) => `Basic ${Buffer.from(`admin:${fs.readFileSync(path.join(dataDir, 'secrets', 'basic-auth-password'), 'utf8')}`).toString('base64')}`

async function deploy(url: string, dataDir: string, module: Uint8Array<ArrayBuffer>): Promise<void> {
  const auth = authOf(dataDir)
  const up = await fetch(`${url}/system/artifacts`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/wasm' }, body: module })
  assert.equal(up.status, 201, await up.clone().text())
  const { image } = (await up.json()) as { image: string }
  const res = await fetch(`${url}/system/functions`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ service: 'sleeper', image, labels: { 'com.kindling.isolation': 'thread', 'com.openfaas.scale.min': '4', 'com.openfaas.scale.max': '8' } }) })
  assert.equal(res.status, 202, await res.text())
}

before(async () => {
  if (skip) return
  nats = await startNatsServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-kill-'))
  const keyFile = path.join(dir, 'cluster.key')
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'))
  const env = (role: string, extra: Record<string, string> = {}) => ({ KINDLING_NATS_URL: nats.url, KINDLING_CLUSTER_KEY_FILE: keyFile, KINDLING_ROLE: role, ...extra })
  const started = await Promise.all([
    ...['w1', 'w2', 'w3'].map(async (n) => {
      const dataDir = path.join(dir, n)
      const srv = await startServerProcess(dataDir, env('worker'))
      workers.push({ srv, dataDir, id: fs.readFileSync(path.join(dataDir, 'node-id'), 'utf8').trim() })
      return { srv, dataDir }
    }),
    ...(['http', 'nats'] as const).map(async (transport) => {
      const dataDir = path.join(dir, `g-${transport}`)
      const srv = await startServerProcess(dataDir, env('gateway', { KINDLING_CLUSTER_TRANSPORT: transport }))
      gateways.push({ srv, transport })
      return { srv, dataDir }
    }),
  ])
  // a call takes 300 ms: 12 callers keep about 4 calls running on each worker (4 warm sandboxes each, on the thread tier: a sleeping call blocks no other), so a kill catches some in flight
  const module = (await sleeperModule(300)) as Uint8Array<ArrayBuffer>
  // deployed through one gateway: the cluster's state takes it to every worker
  const gw = started[3]!
  await deploy(gw.srv.url, gw.dataDir, module)
  // bounded: until every worker has a warm sandbox of it (the gateway lists the nodes' records)
  for (let i = 0; i < 600; i++) {
    const info = (await (await fetch(`${gw.srv.url}/system/info`, { headers: { authorization: authOf(gw.dataDir) } })).json()) as { cluster?: { nodes?: { role: string; warm: Record<string, number> }[] } }
    const ready = (info.cluster?.nodes ?? []).filter((n) => n.role === 'worker' && (n.warm['sleeper.openfaas-fn'] ?? 0) > 0)
    if (ready.length === 3) break
    await new Promise((r) => setTimeout(r, 100))
  }
})
after(async () => {
  for (const n of [...gateways, ...workers]) await n.srv.stop().catch(() => {})
  await nats?.stop()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

interface Outcome {
  status: number
  code: string | null
  node: string | null
  ms: number
  at: number
}

async function call(url: string): Promise<Outcome> {
  const t0 = Date.now()
  const res = await fetch(`${url}/function/sleeper`, { method: 'POST', body: 'x' })
  const text = await res.text()
  if (res.status === 200) assert.equal(text, 'slept')
  return { status: res.status, code: res.headers.get('x-kindling-error'), node: res.headers.get(NODE_HEADER), ms: Date.now() - t0, at: t0 }
}

/** `callers` loops per gateway calling until stop() (each at most 400 calls). */
function load(callers: number) {
  let stopped = false
  const out: (Outcome & { transport: string })[] = []
  const loops = gateways.flatMap((g) =>
    Array.from({ length: callers }, async () => {
      for (let i = 0; i < 400 && !stopped; i++) out.push({ ...(await call(g.srv.url)), transport: g.transport })
    }),
  )
  return {
    out,
    async stop() {
      stopped = true
      await Promise.all(loops)
    },
  }
}

const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0

test('kill -9 of a worker under load: its calls fail with KINDLING_ERR_WORKER_LOST, nothing else fails, later calls succeed', { skip, timeout: 180_000 }, async (t) => {
  const ids = workers.map((w) => w.id).sort()
  // every gateway reaches every worker (bounded: the workers' first heartbeats)
  const warm = load(6)
  for (let i = 0; i < 300; i++) {
    const seen = (transport: string) => new Set(warm.out.filter((o) => o.transport === transport && o.status === 200).map((o) => o.node))
    if (seen('http').size === 3 && seen('nats').size === 3) break
    await new Promise((r) => setTimeout(r, 100))
  }
  await warm.stop()
  for (const transport of ['http', 'nats']) {
    assert.deepEqual([...new Set(warm.out.filter((o) => o.transport === transport).map((o) => o.node))].sort(), ids, transport)
  }
  assert.deepEqual(warm.out.filter((o) => o.status !== 200), [])

  const victim = workers[0]!
  const run = load(6)
  await new Promise((r) => setTimeout(r, 1500))
  const killedAt = Date.now()
  await victim.srv.kill9()
  // past the membership TTL (3.5 s), and some more for calls placed elsewhere
  await new Promise((r) => setTimeout(r, 7000))
  await run.stop()
  const failed = run.out.filter((o) => o.status !== 200)
  t.diagnostic(`calls: ${run.out.length}, failed: ${failed.length} (${['http', 'nats'].map((tr) => `${tr} ${failed.filter((o) => o.transport === tr).length}`).join(', ')})`)
  for (const tr of ['http', 'nats']) {
    const before = run.out.filter((o) => o.transport === tr && o.at < killedAt && o.node)
    t.diagnostic(`${tr}: calls per worker before the kill: ${ids.map((id) => `${id === victim.id ? 'victim' : id.slice(-4)} ${before.filter((o) => o.node === id).length}`).join(', ')}`)
  }
  for (const o of failed) assert.deepEqual({ status: o.status, code: o.code }, { status: 502, code: 'KINDLING_ERR_WORKER_LOST' })
  // the calls running on the victim fail (test/runtime/cluster/http-transport.test.ts: never sent again elsewhere)
  assert.ok(failed.length >= 1, 'calls in flight on the killed worker failed')
  // p99 per second around the kill, for the notes
  for (let s = -1; s < 7; s++) {
    const win = run.out.filter((o) => o.at >= killedAt + s * 1000 && o.at < killedAt + (s + 1) * 1000)
    t.diagnostic(`t=${s}s: ${win.length} calls, p50 ${p(win.map((o) => o.ms), 0.5)} ms, p99 ${p(win.map((o) => o.ms), 0.99)} ms, failed ${win.filter((o) => o.status !== 200).length}`)
  }

  // later calls: all succeed, none on the dead worker
  const later = await Promise.all(gateways.flatMap((g) => Array.from({ length: 12 }, () => call(g.srv.url))))
  assert.deepEqual(later.filter((o) => o.status !== 200), [])
  assert.ok(later.every((o) => o.node !== victim.id))
})
