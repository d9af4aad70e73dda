import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { backoffMs, retryAfterMs, retryOverrides, retryPolicy } from '../../../runtime/async/retry.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { type CallbackServer, failUntil, flakyModule, sleeperModule, startCallbackServer, waitUntil } from './helpers.js'

describe('async: retry policy', () => {
  const defaults = { attempts: 10, codes: new Set([429, 502, 500, 504, 408]), minWaitMs: 10_000, maxWaitMs: 120_000 }

  it('reads com.openfaas.retry.* over the defaults and refuses values that do not parse', () => {
    const p = retryPolicy(defaults, retryOverrides({ 'com.openfaas.retry.attempts': '3', 'com.openfaas.retry.codes': '503, 429', 'com.openfaas.retry.min_wait': '500ms', 'com.openfaas.retry.max_wait': '2s' }))
    assert.deepEqual({ ...p, codes: [...p.codes] }, { attempts: 3, codes: [503, 429], minWaitMs: 500, maxWaitMs: 2000 })
    assert.deepEqual(retryPolicy(defaults, {}), defaults)
    assert.throws(() => retryOverrides({ 'com.openfaas.retry.attempts': 'many' }), /com\.openfaas\.retry\.attempts/)
    assert.throws(() => retryOverrides({ 'com.openfaas.retry.codes': '5xx' }), /HTTP statuses/)
    assert.throws(() => retryOverrides({ 'com.openfaas.retry.min_wait': '2s', 'com.openfaas.retry.max_wait': '1s' }), /max_wait/)
  })

  it('backs off exponentially from min_wait to max_wait with jitter, and honours Retry-After', () => {
    const p = retryPolicy(defaults, {})
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffMs(p, n, () => 1)), [10_000, 20_000, 40_000, 80_000, 120_000])
    assert.equal(backoffMs(p, 1, () => 0), 5_000, 'jitter keeps at least half')
    assert.equal(retryAfterMs('3'), 3000)
    assert.equal(retryAfterMs(new Date(Date.now() + 5000).toUTCString(), Date.now()) ! > 3000, true)
    assert.equal(retryAfterMs('soon'), undefined)
  })
})

describe('async: POST /async-function', () => {
  let k: TestKindling
  let cb: CallbackServer
  before(async () => {
    // the callback server is on loopback, which callbacks may reach only when granted
    k = await startKindling({ asyncRetryMinWaitMs: 50, asyncRetryMaxWaitMs: 200, asyncCallbackRetryMs: 50, callbackAllow: ['127.0.0.1'] })
    cb = await startCallbackServer()
    await k.deploy('cat', exampleModule('cat'))
    await k.deploy('env', exampleModule('env'))
  })
  after(async () => {
    await k.cleanup()
    await cb.close()
  })
  const post = (url: string, headers: Record<string, string> = {}, payload: string | Buffer = '') => k.app.inject({ method: 'POST', url, headers, payload })
  const state = async (id: string) => (await k.app.inject({ method: 'GET', url: `/system/async-calls/${id}`, headers: k.auth })).json() as Record<string, unknown> & { state: string; attempts: number; callback: Record<string, unknown> }
  const settled = (id: string) => waitUntil(`call ${id} to finish`, async () => {
    const s = await state(id)
    return ['done', 'failed', 'dead', 'cancelled'].includes(s.state) ? s : undefined
  })

  it('answers 202 at once with X-Call-Id and X-Start-Time and an empty body, then POSTs the result to the callback', async () => {
    cb.received.length = 0
    const r = await post('/async-function/cat', { 'x-callback-url': cb.url, 'content-type': 'text/plain' }, 'hello async')
    assert.equal(r.statusCode, 202)
    assert.equal(r.body, '')
    const id = r.headers['x-call-id'] as string
    assert.ok(id)
    assert.match(String(r.headers['x-start-time']), /^\d{19}$/)
    const [got] = await cb.waitFor(1)
    assert.equal(got!.body.toString(), 'hello async')
    assert.equal(got!.headers['x-call-id'], id)
    assert.equal(got!.headers['x-function-status'], '200')
    assert.equal(got!.headers['x-function-name'], 'cat')
    assert.ok(Number(got!.headers['x-duration-seconds']) > 0)
    assert.equal(got!.headers['x-retry'], '0')
    assert.equal(got!.headers['x-retry-max'], '10')
    assert.match(String(got!.headers['content-type']), /text\/plain/, 'the function\'s response headers come along')
    const s = await settled(id)
    assert.equal(s.state, 'done')
    assert.equal(s.attempts, 1)
    assert.equal(s.lastStatus, 200)
    assert.equal(s.callback.delivered, true)
  })

  it('passes the path, the query and the headers, calls with POST, and accepts name.namespace', async () => {
    cb.received.length = 0
    const r = await post('/async-function/env.openfaas-fn/some/path?x=1', { 'x-callback-url': cb.url, 'x-custom': 'yes' })
    assert.equal(r.statusCode, 202)
    const [got] = await cb.waitFor(1)
    const out = got!.body.toString()
    assert.match(out, /Http_Method=POST/)
    assert.match(out, /Http_Path=\/some\/path/)
    assert.match(out, /Http_Query=x=1/)
    assert.match(out, /Http_X_Custom=yes/)
    assert.match(out, new RegExp(`Http_X_Call_Id=${r.headers['x-call-id']}`))
    assert.equal(got!.headers['x-function-name'], 'env.openfaas-fn')
  })

  it('answers 404 for an unknown function, 400 for a bad X-Callback-Url, and keeps the call state behind auth', async () => {
    const unknown = await post('/async-function/nothere', { 'x-callback-url': cb.url })
    assert.equal(unknown.statusCode, 404)
    assert.equal(unknown.headers['x-kindling-error'], 'KINDLING_ERR_FUNCTION_NOT_FOUND')
    for (const bad of ['not a url', 'ftp://127.0.0.1/x', '/relative']) {
      const r = await post('/async-function/cat', { 'x-callback-url': bad })
      assert.equal(r.statusCode, 400, bad)
      assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_INVALID_CALLBACK_URL')
    }
    assert.equal((await k.app.inject({ method: 'GET', url: '/async-function/cat' })).statusCode, 404, 'only POST is an async call')
    const ok = await post('/async-function/cat', {}, 'no callback')
    assert.equal(ok.statusCode, 202, 'a callback is optional')
    const id = ok.headers['x-call-id'] as string
    assert.equal((await settled(id)).state, 'done')
    assert.equal((await k.app.inject({ method: 'GET', url: `/system/async-calls/${id}` })).statusCode, 401)
    assert.equal((await k.app.inject({ method: 'GET', url: '/system/async-calls/nope', headers: k.auth })).statusCode, 404)
  })

  it('retries a function answering 500 with backoff, then calls back with its 200 and X-Retry', async () => {
    await k.deploy('flaky', await flakyModule(), { annotations: { 'com.openfaas.retry.min_wait': '100ms', 'com.openfaas.retry.max_wait': '200ms' } })
    // its own app host starts first; the deadline below must not pass before the first run
    await waitUntil('a warm sandbox', async () => (await k.app.inject({ method: 'GET', url: '/system/function/flaky', headers: k.auth })).json().availableReplicas >= 1)
    cb.received.length = 0
    const r = await post('/async-function/flaky', { 'x-callback-url': cb.url }, failUntil(Date.now() + 300))
    const [got] = await cb.waitFor(1)
    assert.equal(got!.headers['x-function-status'], '200')
    assert.equal(got!.body.toString(), 'ok\n')
    const retries = Number(got!.headers['x-retry'])
    assert.ok(retries >= 1 && retries <= 4, `X-Retry ${retries}`)
    assert.equal(got!.headers['x-retry-max'], '10')
    const s = await settled(r.headers['x-call-id'] as string)
    assert.equal(s.state, 'done')
    assert.equal(s.attempts, retries + 1)
    const logs = (await k.app.inject({ method: 'GET', url: '/system/logs?name=flaky', headers: k.auth })).body
    assert.match(logs, /answered 500; retry 1 of 10/)
  })

  it('gives up after com.openfaas.retry.attempts and calls back with the last failure', async () => {
    await k.deploy('broken', await flakyModule(), { annotations: { 'com.openfaas.retry.attempts': '2', 'com.openfaas.retry.min_wait': '20ms', 'com.openfaas.retry.max_wait': '40ms' } })
    cb.received.length = 0
    const r = await post('/async-function/broken', { 'x-callback-url': cb.url }, failUntil(Date.now() + 3_600_000))
    const [got] = await cb.waitFor(1)
    assert.equal(got!.headers['x-function-status'], '500')
    assert.equal(got!.headers['x-retry'], '2')
    assert.equal(got!.headers['x-retry-max'], '2')
    const s = await settled(r.headers['x-call-id'] as string)
    assert.equal(s.state, 'dead', 'retries ran out: a dead letter')
    assert.equal(s.attempts, 3)
  })

  it('tries a failing callback again without running the call again', async () => {
    cb.received.length = 0
    cb.failFirst = [503, 500]
    const r = await post('/async-function/cat', { 'x-callback-url': cb.url }, 'deliver me')
    const [got] = await cb.waitFor(1)
    assert.equal(got!.body.toString(), 'deliver me')
    const s = await settled(r.headers['x-call-id'] as string)
    assert.equal(s.attempts, 1, 'the function ran once')
    assert.equal(s.callback.attempts, 3)
    assert.equal(s.callback.delivered, true)
  })

  it('cancels a queued call (202), not a running one (409)', async () => {
    const k2 = await startKindling({ asyncConcurrency: 1 })
    try {
      await k2.deploy('slow', await sleeperModule(500))
      const first = await k2.app.inject({ method: 'POST', url: '/async-function/slow' })
      const second = await k2.app.inject({ method: 'POST', url: '/async-function/slow' })
      const id1 = first.headers['x-call-id'] as string
      const id2 = second.headers['x-call-id'] as string
      const get = async (id: string) => (await k2.app.inject({ method: 'GET', url: `/system/async-calls/${id}`, headers: k2.auth })).json() as { state: string }
      await waitUntil('the first call to run', async () => (await get(id1)).state === 'running')
      assert.equal((await get(id2)).state, 'queued', 'concurrency 1: the second waits')
      assert.equal((await k2.app.inject({ method: 'DELETE', url: `/system/async-calls/${id2}`, headers: k2.auth })).statusCode, 202)
      assert.equal((await get(id2)).state, 'cancelled')
      const running = await k2.app.inject({ method: 'DELETE', url: `/system/async-calls/${id1}`, headers: k2.auth })
      assert.equal(running.statusCode, 409)
      assert.equal(running.headers['x-kindling-error'], 'KINDLING_ERR_CALL_NOT_CANCELLABLE')
      await waitUntil('the first call to finish', async () => (await get(id1)).state === 'done')
      assert.equal((await get(id2)).state, 'cancelled', 'a cancelled call never runs')
    } finally {
      await k2.cleanup()
    }
  })
})
