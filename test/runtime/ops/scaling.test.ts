import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { sleep, sleeperModule, waitUntil } from './helpers.js'

describe('scaling: replicas are warm sandboxes', () => {
  let k: TestKindling
  before(async () => {
    // short autoscaler windows so that the CE rule fires and resolves within seconds
    k = await startKindling({ autoscaleWindowMs: 2000, autoscaleFireAfterMs: 1000 })
  })
  after(() => k.cleanup())

  const status = async (name: string) => (await k.app.inject({ method: 'GET', url: `/system/function/${name}`, headers: k.auth })).json() as { replicas: number; availableReplicas: number }
  const scaleTo = (name: string, replicas: number) => k.app.inject({ method: 'POST', url: `/system/scale-function/${name}`, headers: k.auth, payload: { serviceName: name, replicas } })
  const call = (name: string, body = '') => k.app.inject({ method: 'POST', url: `/function/${name}`, payload: body })

  it('reports replicas (desired) and availableReplicas (alive) truthfully for min, a scale and max', async () => {
    await k.deploy('mn', exampleModule('cat'), { labels: { 'com.openfaas.scale.min': '2', 'com.openfaas.scale.max': '3' } })
    assert.equal((await status('mn')).replicas, 2, 'min is the replica count right after deploy')
    await waitUntil('2 warm sandboxes', async () => (await status('mn')).availableReplicas === 2)
    assert.equal((await scaleTo('mn', 3)).statusCode, 202)
    await waitUntil('3 warm sandboxes', async () => (await status('mn')).availableReplicas === 3)
    assert.equal((await status('mn')).replicas, 3)
    assert.equal((await scaleTo('mn', 9)).statusCode, 202)
    assert.equal((await status('mn')).replicas, 3, 'clamped to com.openfaas.scale.max')
    assert.equal((await scaleTo('mn', 1)).statusCode, 202)
    await waitUntil('1 warm sandbox', async () => (await status('mn')).availableReplicas === 1)
    assert.equal((await status('mn')).replicas, 1)
  })

  it('scales an idle function to zero after its zero-duration and serves 20 concurrent calls that arrive at zero', async () => {
    await k.deploy('z', exampleModule('cat'), { labels: { 'com.openfaas.scale.zero': 'true', 'com.openfaas.scale.zero-duration': '1s', 'com.openfaas.scale.max': '4' } })
    assert.equal((await call('z', 'warm')).body, 'warm')
    await waitUntil('scaled to zero', async () => {
      const s = await status('z')
      return s.replicas === 0 && s.availableReplicas === 0
    }, 5000)
    const bodies = Array.from({ length: 20 }, (_, i) => `call-${i}`)
    const results = await Promise.all(bodies.map((b) => call('z', b)))
    assert.deepEqual(results.map((r) => r.statusCode), bodies.map(() => 200), 'nothing is refused')
    assert.deepEqual(results.map((r) => r.body), bodies, 'every call got its own answer')
    const s = await status('z')
    assert.equal(s.replicas, 1, 'back to max(min, 1)')
    assert.ok(s.availableReplicas >= 1 && s.availableReplicas <= 4, `${s.availableReplicas} sandboxes, at most max`)
    // and down again once it is idle
    await waitUntil('scaled to zero again', async () => (await status('z')).replicas === 0, 5000)
    const logs = (await k.app.inject({ method: 'GET', url: '/system/logs?name=z', headers: k.auth })).body
    assert.match(logs, /scaled to zero after/)
    assert.match(logs, /scaling from zero to 1/)
  })

  it('serves calls to a function scaled to zero through the API (the certifier\'s Test_ScaleFromZeroDuringInvoke)', async () => {
    await k.deploy('zapi', exampleModule('cat'))
    await waitUntil('a warm sandbox', async () => (await status('zapi')).availableReplicas >= 1)
    assert.equal((await scaleTo('zapi', 0)).statusCode, 202)
    assert.equal((await status('zapi')).replicas, 0)
    await waitUntil('no warm sandbox', async () => (await status('zapi')).availableReplicas === 0)
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call('zapi', String(i))))
    assert.deepEqual(results.map((r) => r.body), Array.from({ length: 20 }, (_, i) => String(i)))
    assert.ok((await status('zapi')).replicas >= 1)
  })

  it('answers 429 for exactly the calls beyond max sandboxes and the queue depth', async () => {
    await k.deploy('slow', await sleeperModule(400), { labels: { 'com.openfaas.scale.max': '1', 'com.kindling.queue-depth': '2' } })
    await waitUntil('a warm sandbox', async () => (await status('slow')).availableReplicas === 1)
    const results = await Promise.all(Array.from({ length: 10 }, () => call('slow')))
    const codes = results.map((r) => r.statusCode).sort()
    assert.deepEqual(codes, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429], '1 running + 2 queued, the other 7 refused')
    const refused = results.find((r) => r.statusCode === 429)!
    assert.equal(refused.headers['x-kindling-error'], 'KINDLING_ERR_OVERLOADED')
    assert.equal((await status('slow')).availableReplicas, 1, 'never more than max sandboxes')
  })

  it('scales up under load above 5 rps and back to min when it stops (CE rule), and not at all when min = max', async () => {
    await k.deploy('busy', exampleModule('cat'), { labels: { 'com.openfaas.scale.min': '1', 'com.openfaas.scale.max': '2' } })
    await k.deploy('fixed', exampleModule('cat'), { labels: { 'com.openfaas.scale.min': '2', 'com.openfaas.scale.max': '2' } })
    // about 20 rps to each for 4 s (the windows are 2 s and 1 s here; 10 s and 5 s by default)
    let peak = 0
    const fixedSeen = new Set<number>()
    const end = Date.now() + 4000
    while (Date.now() < end) {
      await Promise.all([call('busy', 'x'), call('fixed', 'x')])
      peak = Math.max(peak, (await status('busy')).replicas)
      fixedSeen.add((await status('fixed')).replicas)
      await sleep(50)
    }
    assert.equal(peak, 2, 'busy reached max')
    await waitUntil('busy back at min', async () => (await status('busy')).replicas === 1, 6000)
    fixedSeen.add((await status('fixed')).replicas)
    assert.deepEqual([...fixedSeen], [2], 'min = max disables autoscaling')
    const logs = (await k.app.inject({ method: 'GET', url: '/system/logs?name=busy', headers: k.auth })).body
    assert.match(logs, /autoscaler: 1 → 2 replicas/)
    assert.match(logs, /autoscaler: 2 → 1 replicas/)
  })
})
