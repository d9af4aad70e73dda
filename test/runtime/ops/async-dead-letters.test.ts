// Dead letters on the embedded single node: a call whose retries ran out is kept as state "dead"
// (request included), listed by GET /system/async-calls?state=dead (paginated), and replayed once
// by POST /system/async-calls/{id}/replay as a new call; all behind /system auth.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling, waitWarm } from '../../helpers/kindling.js'
import { type CallbackServer, failUntil, flakyModule, sleep, startCallbackServer, waitUntil } from './helpers.js'

describe('async: dead letters, list and replay', () => {
  let k: TestKindling
  let cb: CallbackServer
  before(async () => {
    k = await startKindling({ asyncCallbackRetryMs: 50, callbackAllow: ['127.0.0.1'] })
    cb = await startCallbackServer()
    await k.deploy('cat', exampleModule('cat'))
    await k.deploy('broken', await flakyModule(), { annotations: { 'com.openfaas.retry.attempts': '1', 'com.openfaas.retry.min_wait': '20ms', 'com.openfaas.retry.max_wait': '40ms' } })
  })
  after(async () => {
    await k?.cleanup()
    await cb?.close()
  })
  const get = async (url: string) => k.app.inject({ method: 'GET', url, headers: k.auth })
  const state = async (id: string) => (await get(`/system/async-calls/${id}`)).json() as { state: string; attempts: number; replayOf: string | null; replayedAs: string | null; lastStatus: number; callback: { delivered: boolean } | null }
  const settled = (id: string, states = ['done', 'failed', 'dead']) => waitUntil(`call ${id} to settle`, async () => {
    const s = await state(id)
    return states.includes(s.state) ? s : undefined
  })

  it('keeps a call whose retries ran out as dead, lists it by state with pages, and replays it once as a new call', async () => {
    cb.received.length = 0
    // a warm sandbox first: on a loaded machine the first start could outlast the failing window
    await waitWarm(k, 'broken')
    // fails for 4 s: both runs (the first and its one retry) fail, a replay after that works
    const healAt = Date.now() + 4000
    const withCb = await k.app.inject({ method: 'POST', url: '/async-function/broken', headers: { 'x-callback-url': cb.url, 'x-correlation-id': 'order-7' }, payload: failUntil(healAt) })
    const plain = await k.app.inject({ method: 'POST', url: '/async-function/broken', payload: failUntil(healAt) })
    const fine = await k.app.inject({ method: 'POST', url: '/async-function/cat', payload: 'fine' })
    const [a, b, c] = [withCb, plain, fine].map((r) => r.headers['x-call-id'] as string)
    const sa = await settled(a!)
    const sb = await settled(b!)
    assert.equal(sa.state, 'dead')
    assert.equal(sa.attempts, 2)
    assert.equal(sa.lastStatus, 500)
    assert.equal(sa.callback!.delivered, true, 'a dead call still calls back with its last failure')
    assert.equal(sb.state, 'dead')
    assert.equal((await settled(c!)).state, 'done')
    const [got] = await cb.waitFor(1)
    assert.equal(got!.headers['x-function-status'], '500')

    const page1 = (await get('/system/async-calls?state=dead&limit=1')).json() as { calls: { callId: string }[]; next: string | null }
    assert.deepEqual(page1.calls.map((x) => x.callId), [a])
    assert.ok(page1.next)
    const page2 = (await get(`/system/async-calls?state=dead&limit=1&after=${page1.next}`)).json() as { calls: { callId: string }[]; next: string | null }
    assert.deepEqual(page2.calls.map((x) => x.callId), [b])
    assert.equal(page2.next, null)
    const done = (await get('/system/async-calls?state=done')).json() as { calls: { callId: string }[] }
    assert.deepEqual(done.calls.map((x) => x.callId), [c])
    assert.equal(((await get('/system/async-calls')).json() as { calls: unknown[] }).calls.length, 3, 'no state: every call')

    await sleep(Math.max(0, healAt - Date.now() + 50))
    cb.received.length = 0
    const r = await k.app.inject({ method: 'POST', url: `/system/async-calls/${a}/replay`, headers: k.auth })
    assert.equal(r.statusCode, 202, r.body)
    const fresh = r.json().callId as string
    assert.equal(r.headers['x-call-id'], fresh)
    assert.notEqual(fresh, a)
    const [again] = await cb.waitFor(1)
    assert.equal(again!.headers['x-function-status'], '200', 'the replay runs the same request (its body) again')
    assert.equal(again!.headers['x-call-id'], fresh)
    assert.equal(again!.headers['x-correlation-id'], 'order-7', 'the caller\'s correlation id comes along')
    const sf = await settled(fresh)
    assert.equal(sf.state, 'done')
    assert.equal(sf.replayOf, a)
    const so = await state(a!)
    assert.equal(so.state, 'replayed')
    assert.equal(so.replayedAs, fresh)
    assert.equal(((await get('/system/async-calls?state=dead')).json() as { calls: { callId: string }[] }).calls.map((x) => x.callId).join(), b, 'a replayed call leaves the dead list')

    const twice = await k.app.inject({ method: 'POST', url: `/system/async-calls/${a}/replay`, headers: k.auth })
    assert.equal(twice.statusCode, 409)
    assert.equal(twice.headers['x-kindling-error'], 'KINDLING_ERR_CALL_NOT_REPLAYABLE')
    assert.equal((await k.app.inject({ method: 'POST', url: `/system/async-calls/${c}/replay`, headers: k.auth })).statusCode, 409, 'a done call is not a dead letter')
    assert.equal((await k.app.inject({ method: 'POST', url: '/system/async-calls/nope/replay', headers: k.auth })).statusCode, 404)
  })

  it('keeps the list and the replay behind auth and refuses a bad state or limit', async () => {
    assert.equal((await k.app.inject({ method: 'GET', url: '/system/async-calls?state=dead' })).statusCode, 401)
    assert.equal((await k.app.inject({ method: 'POST', url: '/system/async-calls/x/replay' })).statusCode, 401)
    for (const q of ['state=zombie', 'limit=0', 'limit=1001', 'limit=ten', 'after=%20x']) {
      const r = await get(`/system/async-calls?${q}`)
      assert.equal(r.statusCode, 422, q)
      assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_INVALID_QUERY')
    }
  })
})
