// A module's start function runs while an instance is made, outside any call: on the inline tier
// it holds the gateway's thread. It gets the function's timeout, not a fixed 10 s.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startKindling, type TestKindling } from '../../helpers/kindling.js'
import { wat } from '../../helpers/wat.js'
import { SLOW_START } from './recursion.js'

describe('instantiation', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling()
  })
  after(() => k?.cleanup())

  for (const tier of ['inline', 'wasm']) {
    it(`stops a start function at the function's timeout on the ${tier} tier`, async () => {
      await k.deploy(`slow-start-${tier}`, await wat(SLOW_START), { labels: { 'com.kindling.isolation': tier, 'com.kindling.timeout': '300ms' } })
      const r = await k.app.inject({ method: 'POST', url: `/function/slow-start-${tier}`, payload: '' })
      assert.notEqual(r.statusCode, 200, 'the start function ran to its end')
      // made ahead of the call, the sandbox fails to start; made for the call, the call times out
      assert.ok(['KINDLING_ERR_SANDBOX_FAILED', 'KINDLING_ERR_TIMEOUT'].includes(String(r.headers['x-kindling-error'])), r.body)
      assert.match(r.body, /deadline|timeout/)
      assert.equal((await k.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    })
  }
})
