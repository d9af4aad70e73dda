// Outbound HTTP through the gateway (issue 13 item 1): the fetch-url example deployed with and
// without com.kindling.outbound on each wasm-running tier, against a server on loopback.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { startTargetServer, type TargetServer } from '../../helpers/target-server.js'

describe('outbound HTTP through the gateway', () => {
  let k: TestKindling
  let target: TargetServer
  before(async () => {
    target = await startTargetServer()
    k = await startKindling()
  })
  after(async () => {
    await k?.cleanup()
    await target?.stop()
  })
  const call = (name: string, url: string) => k.app.inject({ method: 'POST', url: `/function/${name}`, payload: url, headers: { 'content-type': 'text/plain' } })

  it('refuses a bad pattern at deploy with a 400 and its code', async () => {
    const image = await k.upload(exampleModule('fetch-url'))
    const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: 'bad-outbound', image, annotations: { 'com.kindling.outbound': 'api.example.com' } } })
    assert.equal(res.statusCode, 400)
    assert.equal((res.json() as { code: string }).code, 'KINDLING_ERR_INVALID_OUTBOUND')
  })

  it('refuses an outbound grant on the inline tier at deploy (it would block the gateway thread)', async () => {
    const image = await k.upload(exampleModule('fetch-url'))
    const res = await k.app.inject({
      method: 'POST',
      url: '/system/functions',
      headers: k.auth,
      payload: { service: 'fetch-inline', image, labels: { 'com.kindling.isolation': 'inline' }, annotations: { 'com.kindling.outbound': target.origin } },
    })
    assert.equal(res.statusCode, 400, res.body)
    assert.equal((res.json() as { code: string }).code, 'KINDLING_ERR_TIER_UNAVAILABLE')
    assert.match(res.body, /gateway's thread/)
  })

  for (const tier of ['wasm', 'thread', 'process']) {
    it(`${tier}: fetches a granted URL, refuses others inside the function's result, denies by default`, async () => {
      await k.deploy(`fetch-${tier}`, exampleModule('fetch-url'), { labels: { 'com.kindling.isolation': tier }, annotations: { 'com.kindling.outbound': target.origin } })
      const ok = await call(`fetch-${tier}`, `${target.origin}/hello`)
      assert.equal(ok.statusCode, 200, ok.body)
      assert.equal(ok.body, 'hello from target')
      const denied = await call(`fetch-${tier}`, `http://localhost:${target.port}/hello`)
      assert.equal(denied.statusCode, 403, denied.body)
      assert.match(denied.body, /^KINDLING_ERR_OUTBOUND_DENIED: /)
      await k.deploy(`nogrant-${tier}`, exampleModule('fetch-url'), { labels: { 'com.kindling.isolation': tier } })
      const none = await call(`nogrant-${tier}`, `${target.origin}/hello`)
      assert.equal(none.statusCode, 403, none.body)
      assert.match(none.body, /^KINDLING_ERR_OUTBOUND_DENIED: the function has no outbound grant/)
    })
  }
})
