// The dispatcher behind the gateway: one pool per current version. An update hands calls to the
// new version's pool and closes the old one; a removal closes it too; unknown names answer 404.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { waitUntil } from '../ops/helpers.js'

describe('dispatcher', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling()
  })
  after(() => k?.cleanup())

  it('closes the pool of a replaced version, and of a removed function', async () => {
    await k.deploy('swap', exampleModule('echo'), { labels: { 'com.openfaas.scale.min': '1' } })
    const v1 = k.dispatcher.get('swap', 'openfaas-fn')!
    const old = v1.pool!
    await waitUntil('a warm sandbox', () => old.stats.available === 1, 30_000)
    const image = await k.upload(exampleModule('cat'))
    const put = await k.app.inject({ method: 'PUT', url: '/system/functions', headers: k.auth, payload: { service: 'swap', image, labels: { 'com.openfaas.scale.min': '1' } } })
    assert.equal(put.statusCode, 202, put.body)
    const v2 = k.dispatcher.get('swap', 'openfaas-fn')!
    assert.notEqual(v2.version.stored.version, v1.version.stored.version)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/swap', payload: 'x' })).body, 'x')
    await waitUntil('the old pool closed', () => old.stats.available === 0 && old.stats.starting === 0, 30_000)
    const del = await k.app.inject({ method: 'DELETE', url: '/system/functions', headers: k.auth, payload: { functionName: 'swap' } })
    assert.equal(del.statusCode, 202)
    assert.equal(k.dispatcher.get('swap', 'openfaas-fn'), undefined)
    assert.equal(v2.pool!.stats.available, 0)
    const r = await k.app.inject({ method: 'POST', url: '/function/swap', payload: 'x' })
    assert.equal(r.statusCode, 404)
    assert.equal(r.json().code, 'KINDLING_ERR_FUNCTION_NOT_FOUND')
  })
})
