// Async calls in a cluster (issue 12, item 4): a gateway queues into the JetStream work-queue
// stream, two workers pull and run them; every accepted call is called back exactly once; retries
// follow com.openfaas.retry.*, exhausted calls become dead letters, listed and replayed through
// the API on any node; bodies above NATS' max_payload go through the object store; a full stream
// is 429; a NATS restart under load loses nothing accepted. A real nats-server, loopback only.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Config } from '../../../runtime/config.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'
import { type CallbackServer, failUntil, flakyModule, sleep, sleeperModule, startCallbackServer, waitUntil } from '../ops/helpers.js'

const skip = natsServerUnavailable()

describe('cluster: async calls in JetStream', { skip }, () => {
  let nats: NatsServer
  let dir: string
  let keyFile: string
  let cb: CallbackServer
  let gw: TestKindling
  let gw2: TestKindling
  const workers: TestKindling[] = []

  const node = (name: string, role: string, over: Partial<Config> = {}) => startKindling({
    natsUrl: nats.url, role, clusterKeyFile: keyFile, clusterAsyncAckWaitMs: 2000, asyncMaxQueued: 40,
    asyncRetryMinWaitMs: 50, asyncRetryMaxWaitMs: 100, asyncCallbackRetryMs: 50, callbackAllow: ['127.0.0.1'], ...over,
  } as Partial<Config>, { dataDir: path.join(dir, name) })

  before(async () => {
    nats = await startNatsServer()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-cluster-async-'))
    keyFile = path.join(dir, 'cluster.key')
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'))
    cb = await startCallbackServer()
    // listening: each node heartbeats into the membership, which tells a worker whether a call's owner lives
    gw = await node('gw', 'gateway')
    gw2 = await node('gw2', 'gateway')
    // two calls at once per worker, so that slow calls fill the stream
    workers.push(await node('w1', 'worker', { asyncConcurrency: 2 }), await node('w2', 'worker', { asyncConcurrency: 2 }))
    for (const k of [gw, gw2, ...workers]) await k.listen()
    // deployed through one gateway, replicated to every node
    await gw.deploy('cat', exampleModule('cat'))
    await gw.deploy('broken', await flakyModule(), { annotations: { 'com.openfaas.retry.attempts': '1', 'com.openfaas.retry.min_wait': '20ms', 'com.openfaas.retry.max_wait': '40ms' } })
    await gw.deploy('slow', await sleeperModule(1500))
    await gw.deploy('long', await sleeperModule(4500))
    await waitUntil('the functions on every node', () => [gw2, ...workers].every((k) => ['cat', 'broken', 'slow', 'long'].every((n) => k.registry.get(n, 'openfaas-fn'))), 20_000)
  })
  after(async () => {
    for (const k of [gw, gw2, ...workers]) await k?.cleanup()
    await cb?.close()
    await nats?.stop()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  const post = (url: string, headers: Record<string, string> = {}, payload: string | Buffer = '') => gw.app.inject({ method: 'POST', url, headers, payload })
  const status = async (k: TestKindling, id: string) => (await k.app.inject({ method: 'GET', url: `/system/async-calls/${id}`, headers: k.auth })).json() as { state: string; attempts: number; node: string; replayOf: string | null; replayedAs: string | null; callback: { delivered: boolean } | null }
  const settled = (id: string, k = gw) => waitUntil(`call ${id} to settle`, async () => {
    const s = await status(k, id)
    return ['done', 'failed', 'dead', 'cancelled'].includes(s.state) ? s : undefined
  }, 20_000)
  /** call id -> callbacks received for it */
  const perCall = () => {
    const n = new Map<string, number>()
    for (const r of cb.received) n.set(String(r.headers['x-call-id']), (n.get(String(r.headers['x-call-id'])) ?? 0) + 1)
    return n
  }

  it('queues on the gateway, runs on the workers, calls back once per call; the status answers on every gateway', async () => {
    cb.received.length = 0
    const ids: string[] = []
    for (let i = 0; i < 20; i++) {
      const r = await post('/async-function/cat', { 'x-callback-url': cb.url }, `call ${i}`)
      assert.equal(r.statusCode, 202, r.body)
      ids.push(r.headers['x-call-id'] as string)
    }
    await cb.waitFor(20, 20_000)
    const seen = perCall()
    for (const id of ids) assert.equal(seen.get(id), 1, `one callback for ${id}`)
    const bodies = new Set(cb.received.map((r) => r.body.toString()))
    for (let i = 0; i < 20; i++) assert.ok(bodies.has(`call ${i}`))
    const s = await settled(ids[0]!, gw2)
    assert.equal(s.state, 'done')
    assert.equal(s.attempts, 1)
    assert.ok([workers[0]!.cluster!.id, workers[1]!.cluster!.id].includes(s.node), 'a worker ran it')
    assert.equal((await settled(ids[19]!)).callback!.delivered, true)
    assert.equal((await gw.app.inject({ method: 'GET', url: `/system/async-calls/${ids[0]}` })).statusCode, 401, 'behind auth')
    assert.equal((await gw.app.inject({ method: 'GET', url: '/system/async-calls/nope', headers: gw.auth })).statusCode, 404)
    assert.equal((await post('/async-function/unknown')).statusCode, 404)
  })

  it('runs a call longer than the ack wait once (in-progress acks; a redelivery meanwhile is left to its live worker)', async () => {
    cb.received.length = 0
    const r = await post('/async-function/long', { 'x-callback-url': cb.url })
    const id = r.headers['x-call-id'] as string
    const [got] = await cb.waitFor(1, 20_000)
    assert.equal(got!.headers['x-call-id'], id)
    const s = await settled(id)
    assert.equal(s.state, 'done')
    assert.equal(s.attempts, 1, 'run once although it ran more than twice the 2 s ack wait')
    await sleep(500)
    assert.equal(cb.received.length, 1)
  })

  it('moves a body larger than NATS max_payload through the object store, within KINDLING_MAX_BODY_BYTES', async () => {
    cb.received.length = 0
    const big = crypto.randomBytes(3 * 1024 * 1024)
    const r = await post('/async-function/cat', { 'x-callback-url': cb.url, 'content-type': 'application/octet-stream' }, big)
    assert.equal(r.statusCode, 202, r.body)
    const [got] = await cb.waitFor(1, 20_000)
    assert.equal(got!.headers['x-call-id'], r.headers['x-call-id'])
    assert.ok(got!.body.equals(big), 'the body came through whole')
  })

  it('retries with com.openfaas.retry.*, keeps an exhausted call as a dead letter, lists and replays it on any gateway', async () => {
    cb.received.length = 0
    // fails for 5 s (room for a cold start on a loaded machine): both runs fail, a replay after that works
    const healAt = Date.now() + 5000
    const r = await post('/async-function/broken', { 'x-callback-url': cb.url }, failUntil(healAt))
    const id = r.headers['x-call-id'] as string
    const dead = await settled(id)
    // a second dead letter, without a callback, to page through
    const other = (await post('/async-function/broken', {}, failUntil(healAt + 3_600_000))).headers['x-call-id'] as string
    assert.equal((await settled(other)).state, 'dead')
    assert.equal(dead.state, 'dead')
    assert.equal(dead.attempts, 2, 'the first run and its one retry')
    const [failure] = await cb.waitFor(1)
    assert.equal(failure!.headers['x-function-status'], '500')
    assert.equal(failure!.headers['x-retry'], '1')
    const page = async (q: string) => (await gw2.app.inject({ method: 'GET', url: `/system/async-calls?state=dead&${q}`, headers: gw2.auth })).json() as { calls: { callId: string; state: string }[]; next: string | null }
    const p1 = await page('limit=1')
    assert.deepEqual(p1.calls.map((c) => [c.callId, c.state]), [[id, 'dead']])
    assert.ok(p1.next)
    const p2 = await page(`limit=1&after=${p1.next}`)
    assert.deepEqual(p2.calls.map((c) => c.callId), [other])
    assert.equal((await page(`limit=1&after=${p2.next ?? p1.next}`)).next, null)
    const noState = await gw2.app.inject({ method: 'GET', url: '/system/async-calls', headers: gw2.auth })
    assert.equal(noState.statusCode, 422, 'a cluster lists dead letters only')
    await sleep(Math.max(0, healAt - Date.now() + 50))
    cb.received.length = 0
    const replay = await gw2.app.inject({ method: 'POST', url: `/system/async-calls/${id}/replay`, headers: gw2.auth })
    assert.equal(replay.statusCode, 202, replay.body)
    const fresh = replay.json().callId as string
    const [ok] = await cb.waitFor(1, 20_000)
    assert.equal(ok!.headers['x-call-id'], fresh)
    assert.equal(ok!.headers['x-function-status'], '200')
    assert.equal((await settled(fresh)).replayOf, id)
    const old = await status(gw, id)
    assert.equal(old.state, 'replayed')
    assert.equal(old.replayedAs, fresh)
    const again = await gw.app.inject({ method: 'POST', url: `/system/async-calls/${id}/replay`, headers: gw.auth })
    assert.equal(again.statusCode, 409)
    assert.equal(again.headers['x-kindling-error'], 'KINDLING_ERR_CALL_NOT_REPLAYABLE')
    assert.deepEqual(((await gw.app.inject({ method: 'GET', url: '/system/async-calls?state=dead', headers: gw.auth })).json() as { calls: { callId: string }[] }).calls.map((c) => c.callId), [other], 'replayed: no longer a dead letter')
  })

  it('answers 429 when the stream holds KINDLING_ASYNC_MAX_QUEUED calls, and a cancelled call never runs', async () => {
    // 4 run at once (1.5 s each), the others wait in the stream: it fills at 40
    const accepted: string[] = []
    let full: { statusCode: number; headers: Record<string, unknown> } | undefined
    for (let i = 0; i < 60 && !full; i++) {
      const r = await post('/async-function/slow', {}, 'x')
      if (r.statusCode === 202) accepted.push(r.headers['x-call-id'] as string)
      else full = r
    }
    assert.ok(full, 'the stream filled up')
    assert.equal(full.statusCode, 429)
    assert.equal(full.headers['x-kindling-error'], 'KINDLING_ERR_ASYNC_QUEUE_FULL')
    assert.ok(accepted.length <= 40)
    const cancelled: string[] = []
    for (const id of accepted) {
      const r = await gw.app.inject({ method: 'DELETE', url: `/system/async-calls/${id}`, headers: gw.auth })
      if (r.statusCode === 202) cancelled.push(id)
      else assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_CALL_NOT_CANCELLABLE')
    }
    assert.ok(cancelled.length > 20, `${cancelled.length} were still queued`)
    // the workers ack cancelled calls without running them: the stream has room again
    await waitUntil('room in the stream', async () => (await post('/async-function/cat', {}, 'room')).statusCode === 202, 20_000, 200)
    for (const id of accepted) await settled(id)
    for (const id of cancelled) {
      const s = await status(gw, id)
      assert.equal(s.state, 'cancelled')
      assert.equal(s.attempts, 0, 'never ran')
    }
  })

  it('loses nothing accepted when NATS restarts under load: each 202 is called back exactly once', async () => {
    cb.received.length = 0
    const accepted: string[] = []
    let refused = 0
    const load = (async () => {
      for (let i = 0; i < 60; i++) {
        const r = await post('/async-function/cat', { 'x-callback-url': cb.url }, `load ${i}`)
        if (r.statusCode === 202) accepted.push(r.headers['x-call-id'] as string)
        else {
          // refused, never lost: 503 while NATS is away, 429 if the stream filled meanwhile
          assert.ok([503, 429].includes(r.statusCode), r.body)
          assert.match(String(r.headers['x-kindling-error']), /^KINDLING_ERR_(CLUSTER_UNAVAILABLE|ASYNC_QUEUE_FULL)$/)
          refused++
        }
        await sleep(20)
      }
    })()
    // calls that run through the restart: their in-progress acks stop while NATS is away
    for (let i = 0; i < 2; i++) {
      const r = await post('/async-function/slow', { 'x-callback-url': cb.url }, `slow ${i}`)
      assert.equal(r.statusCode, 202)
      accepted.push(r.headers['x-call-id'] as string)
    }
    await sleep(300)
    await nats.restart()
    await load
    assert.ok(accepted.length > 0)
    await waitUntil(`callbacks for ${accepted.length} accepted calls`, () => accepted.every((id) => perCall().has(id)), 40_000, 100)
    await sleep(500)
    const seen = perCall()
    for (const id of accepted) assert.equal(seen.get(id), 1, `exactly one callback for ${id}`)
    process.stderr.write(`# nats restart under load: ${accepted.length} accepted, ${refused} refused (503/429), every accepted one called back once\n`)
  })
})
