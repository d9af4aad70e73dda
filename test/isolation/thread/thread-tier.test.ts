// The thread tier through a real gateway: workers live in the application's app host, whose main
// thread stays free while a worker loops, so even the application's other functions keep
// answering; a worker that ignores its deadline is terminated while the app host lives on.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ThreadTier } from '../../../isolation/thread/tier.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { UNSTOPPABLE_LOOP, wat } from '../../helpers/wat.js'

const THREAD = { 'com.kindling.isolation': 'thread' }
const hostPid = (k: TestKindling, app: string) => (k.tiers.get('thread') as ThreadTier).hosts.running(app)?.pid

async function warm(k: TestKindling, name: string): Promise<void> {
  for (let i = 0; i < 600 && !(k.dispatcher.get(name, 'openfaas-fn')?.pool?.stats.available); i++) await new Promise((r) => setTimeout(r, 50))
}

describe('thread tier through the gateway', () => {
  let k: TestKindling
  before(async () => {
    // fuel so large that the compiled-in checks do not fire: only the terminate backstop stops the loop
    k = await startKindling({ interruptFuel: 2 ** 31 - 1, timeoutGraceMs: 150 })
    await k.deploy('spin', await wat(UNSTOPPABLE_LOOP), { labels: { ...THREAD, 'com.kindling.app': 'shared', 'com.kindling.timeout': '1000ms' } })
    await k.deploy('neighbour', exampleModule('cat'), { labels: { ...THREAD, 'com.kindling.app': 'shared' } })
    await warm(k, 'spin')
    await warm(k, 'neighbour')
  })
  after(() => k.cleanup())

  it('keeps serving the application\'s other functions while one worker loops, then terminates the loop', async () => {
    const pid = hostPid(k, 'shared')
    assert.ok(pid)
    const t0 = Date.now()
    const spinning = k.app.inject({ method: 'POST', url: '/function/spin' })
    let spinEnded = false
    void spinning.finally(() => (spinEnded = true))
    await new Promise((r) => setTimeout(r, 50))
    for (let i = 0; i < 3; i++) {
      const s = Date.now()
      const r = await k.app.inject({ method: 'POST', url: '/function/neighbour', payload: `n${i}` })
      assert.equal(r.body, `n${i}`)
      // an order, not a duration: the neighbour answered while the loop still ran
      assert.ok(!spinEnded, `the neighbour answered only after the loop was stopped (${Date.now() - s} ms)`)
    }
    const r = await spinning
    const took = Date.now() - t0
    assert.equal(r.statusCode, 504)
    assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_TIMEOUT')
    assert.match(r.body, /worker thread did not stop within 150 ms and was terminated and replaced/)
    assert.ok(took >= 1140 && took < 2700, `answered after ${took} ms (timeout 1000 + grace 150)`)
    assert.equal(hostPid(k, 'shared'), pid, 'the app host lives on')
    // the sandbox got a new worker: the function runs (and is stopped) again
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/spin' })).statusCode, 504)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/neighbour', payload: 'still' })).body, 'still')
  })

  it('reports the tier, the application and the warm sandboxes in the function status', async () => {
    const res = await k.app.inject({ method: 'GET', url: '/system/function/neighbour', headers: k.auth })
    const a = (res.json() as { annotations: Record<string, string> }).annotations
    assert.equal(a['com.kindling.tier'], 'thread')
    assert.equal(a['com.kindling.app'], 'shared')
    assert.equal(a['com.kindling.sandboxes.warm'], '1')
  })
})
