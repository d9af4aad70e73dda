// Sync calls in a cluster, in one process: two workers and two gateways (one passing calls over
// direct HTTP, one over NATS request/reply) on a real nats-server. Calls land on both workers,
// bodies past NATS's max_payload go through, the internal route answers 404 to anyone without the
// cluster token, a client that hangs up stops its call on the worker, and with no worker left a call
// fails with KINDLING_ERR_NO_WORKER.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { CallAuth } from '../../../runtime/cluster/calls/auth.js'
import { CALL_ROUTE, NODE_HEADER } from '../../../runtime/cluster/calls/names.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'
import { wasiCommand, wat } from '../../helpers/wat.js'

const skip = natsServerUnavailable()
let nats: NatsServer
let dir: string
let keyFile: string
const workers: TestKindling[] = []
let viaHttp: TestKindling
let viaNats: TestKindling

const until = async (cond: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

const node = (name: string, over: Record<string, unknown> = {}) =>
  startKindling({ natsUrl: nats.url, clusterKeyFile: keyFile, ...over }, { dataDir: path.join(dir, name) })

before(async () => {
  if (skip) return
  nats = await startNatsServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-calls-'))
  keyFile = path.join(dir, 'cluster.key')
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'))
  // the workers take smaller bodies than the gateways: their own limit holds for calls placed on them
  for (const n of ['w1', 'w2']) workers.push(await node(n, { role: 'worker', maxBodyBytes: 6 * 1024 * 1024 }))
  viaHttp = await node('gh', { role: 'gateway', clusterTransport: 'http' })
  viaNats = await node('gn', { role: 'gateway', clusterTransport: 'nats' })
  // a loop the tier's interrupt stops (a sleeping import is not interruptible)
  const spin = await wat(wasiCommand('(loop $l (br $l))'))
  for (const k of [...workers, viaHttp, viaNats]) await k.listen()
  // deployed through one gateway: the cluster's state takes them to every node
  await viaHttp.deploy('echo', exampleModule('echo'))
  await viaHttp.deploy('cat', exampleModule('cat'))
  await viaHttp.deploy('spin', spin, { labels: { 'com.kindling.timeout': '120s' } })
  const everywhere = (name: string) => workers.every((w) => w.dispatcher.get(name, 'openfaas-fn')?.pool) && !!viaNats.registry.get(name, 'openfaas-fn')
  await until(() => ['echo', 'cat', 'spin'].every(everywhere), 60_000)
  await until(() => viaHttp.cluster!.membership.workers().length === 2 && viaNats.cluster!.membership.workers().length === 2)
})
after(async () => {
  for (const k of [viaHttp, viaNats, ...workers]) await k?.cleanup().catch(() => {})
  await nats?.stop()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

for (const which of ['http', 'nats'] as const) {
  test(`calls through the gateway land on both workers (${which})`, { skip }, async () => {
    const gw = which === 'http' ? viaHttp : viaNats
    const seen = new Map<string, number>()
    // bounded: a burst of concurrent calls is spread by the gateway's own count of calls in flight
    for (let round = 0; round < 5 && seen.size < 2; round++) {
      await Promise.all(Array.from({ length: 8 }, async (_, i) => {
        const res = await fetch(`${gw.url}/function/echo?r=${round}`, { method: 'POST', body: `hello ${i}` })
        assert.equal(res.status, 200)
        assert.equal(await res.text(), `hello ${i}`)
        const n = res.headers.get(NODE_HEADER)!
        seen.set(n, (seen.get(n) ?? 0) + 1)
      }))
    }
    assert.deepEqual([...seen.keys()].sort(), workers.map((w) => w.cluster!.id).sort())
  })

  test(`a 3 MiB body and answer pass (NATS: in chunks under max_payload) (${which})`, { skip }, async () => {
    const gw = which === 'http' ? viaHttp : viaNats
    const body = crypto.randomBytes(3 * 1024 * 1024)
    const res = await fetch(`${gw.url}/function/cat`, { method: 'POST', body })
    const got = Buffer.from(await res.arrayBuffer())
    assert.equal(res.status, 200, got.subarray(0, 300).toString())
    assert.equal(got.length, body.length)
    assert.ok(got.equals(body))
  })

  test(`a body over the worker's own limit is refused there with 413 (${which})`, { skip }, async () => {
    const gw = which === 'http' ? viaHttp : viaNats
    const res = await fetch(`${gw.url}/function/cat`, { method: 'POST', body: Buffer.alloc(7 * 1024 * 1024) })
    assert.equal(res.status, 413)
    assert.equal(res.headers.get('x-kindling-error'), 'KINDLING_ERR_PAYLOAD_TOO_LARGE')
  })

  test(`a client that hangs up stops its call on the worker (${which})`, { skip }, async () => {
    const gw = which === 'http' ? viaHttp : viaNats
    const busy = () => workers.reduce((n, w) => n + (w.dispatcher.get('spin', 'openfaas-fn')?.pool?.stats.busy ?? 0), 0)
    const ac = new AbortController()
    const call = fetch(`${gw.url}/function/spin`, { method: 'POST', signal: ac.signal }).catch((e: Error) => e)
    await until(() => busy() === 1).catch((e: Error) => {
      throw new Error(`${e.message}: busy ${busy()} ${JSON.stringify(workers.map((w) => w.dispatcher.get('spin', 'openfaas-fn')?.pool?.stats))}`)
    })
    ac.abort()
    assert.ok((await call) instanceof Error)
    // the loop would run two minutes: it was stopped
    await until(() => busy() === 0)
  })
}

test('the internal call route answers 404 without a valid cluster token, and exists only on workers', { skip }, async () => {
  const w = workers[0]!
  const post = (headers: Record<string, string>, url = w.url!) => fetch(`${url}${CALL_ROUTE}`, { method: 'POST', headers: { 'content-type': 'application/x-kindling-call', ...headers }, body: 'x' })
  assert.equal((await post({})).status, 404)
  assert.equal((await post({ 'x-kindling-call-auth': '1.abc' })).status, 404)
  // a token made with another key
  assert.equal((await post({ 'x-kindling-call-auth': new CallAuth(crypto.randomBytes(32)).token() })).status, 404)
  // with the right key the route exists (and refuses a malformed frame)
  const good = new CallAuth(w.cluster!.key).token()
  assert.equal((await post({ 'x-kindling-call-auth': good })).status, 400)
  assert.equal((await post({ 'x-kindling-call-auth': good }, viaHttp.url)).status, 404)
})

test('scale to zero and back, cluster-wide: scaled through a gateway, a call wakes a worker', { skip }, async () => {
  const res = await fetch(`${viaHttp.url}/system/scale-function/echo`, { method: 'POST', headers: { ...viaHttp.auth, 'content-type': 'application/json' }, body: JSON.stringify({ serviceName: 'echo', replicas: 0 }) })
  assert.ok(res.status < 300, await res.text())
  const pools = () => workers.map((w) => w.dispatcher.get('echo', 'openfaas-fn')!.pool!.stats)
  await until(() => pools().every((s) => s.desired === 0 && s.available === 0))
  for (const gw of [viaHttp, viaNats]) {
    const r = await fetch(`${gw.url}/function/echo`, { method: 'POST', body: 'awake' })
    assert.equal(r.status, 200)
    assert.equal(await r.text(), 'awake')
  }
  assert.ok(pools().some((s) => s.desired >= 1))
})

test('a node with role all serves calls itself (no hop) when it is a good place', { skip }, async () => {
  const both = await node('a1', { role: 'all' })
  try {
    await both.listen()
    await until(() => !!both.dispatcher.get('echo', 'openfaas-fn')?.pool && both.cluster!.membership.workers().length === 3)
    const seen = new Set<string>()
    for (let i = 0; i < 60 && !seen.has(both.cluster!.id); i++) {
      const r = await fetch(`${both.url}/function/echo`, { method: 'POST', body: 'x' })
      assert.equal(r.status, 200)
      seen.add(r.headers.get(NODE_HEADER)!)
    }
    assert.ok(seen.has(both.cluster!.id), [...seen].join())
  } finally {
    await both.cleanup()
  }
})

test('with no worker left, a call fails with KINDLING_ERR_NO_WORKER (503)', { skip }, async () => {
  for (const w of workers.splice(0)) await w.cleanup()
  await until(() => viaHttp.cluster!.membership.workers().length === 0)
  const res = await fetch(`${viaHttp.url}/function/echo`, { method: 'POST', body: 'x' })
  assert.equal(res.status, 503)
  assert.equal(res.headers.get('x-kindling-error'), 'KINDLING_ERR_NO_WORKER')
})
