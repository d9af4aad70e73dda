// The async worker when its store refuses writes for a while (a full disk, a read-only file): it
// must not take the gateway down, and every accepted call must still run and be called back.
// The fault is real: SQLite's query_only pragma makes every write fail, as a full disk does.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startKindling } from '../../helpers/kindling.js'
import { sleeperModule, startCallbackServer, sleep, waitUntil } from './helpers.js'

describe('async: a store that refuses writes for a while', () => {
  it('keeps running, then runs and calls back every accepted call once writes work again', async () => {
    const k = await startKindling({ callbackAllow: ['127.0.0.1'], asyncConcurrency: 1, asyncCallbackRetryMs: 50 })
    const cb = await startCallbackServer()
    try {
      await k.deploy('slow', await sleeperModule(500))
      const post = async () => (await k.app.inject({ method: 'POST', url: '/async-function/slow', headers: { 'x-callback-url': cb.url } })).headers['x-call-id'] as string
      const a = await post()
      const b = await post()
      const state = async (id: string) => ((await k.app.inject({ method: 'GET', url: `/system/async-calls/${id}`, headers: k.auth })).json() as { state: string }).state
      const pool = k.dispatcher.get('slow', 'openfaas-fn')!.pool!
      await waitUntil('the first call to run in its sandbox', () => pool.stats.busy === 1, 10_000, 10)
      assert.equal(await state(b), 'queued', 'one at a time: the second waits')
      k.db.pragma('query_only = ON')
      // the first run ends with nowhere to store its result, and the worker tries to claim the second
      await waitUntil('the first run to end', () => pool.stats.busy === 0)
      await sleep(300)
      k.db.pragma('query_only = OFF')
      await waitUntil('both calls done', async () => (await state(a)) === 'done' && (await state(b)) === 'done', 15_000)
      const ids = new Set(cb.received.map((r) => r.headers['x-call-id']))
      assert.ok(ids.has(a) && ids.has(b), 'both were called back')
    } finally {
      await cb.close()
      await k.cleanup()
    }
  })
})
