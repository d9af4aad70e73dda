import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling, waitWarm } from '../../helpers/kindling.js'
import { wasiCommand, wat } from '../../helpers/wat.js'

describe('function chains: kindling.call within one application', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling()
    for (const tier of ['wasm', 'inline', 'thread', 'process']) {
      const labels = { 'com.kindling.app': `pipeline-${tier}`, 'com.kindling.isolation': tier }
      await k.deploy(`chain-${tier}`, exampleModule('chain'), { labels })
      await k.deploy(`echo-${tier}`, exampleModule('echo'), { labels })
      await k.deploy(`sha-${tier}`, exampleModule('sha512sum'), { labels })
    }
    await k.deploy('echo-elsewhere', exampleModule('echo'), { labels: { 'com.kindling.app': 'other' } })
  })
  after(() => k.cleanup())
  const call = async (fn: string, body: string) => (await k.app.inject({ method: 'POST', url: `/function/${fn}`, payload: body })).body

  for (const tier of ['wasm', 'inline']) {
    it(`calls AssemblyScript and WASI functions of the same application on the ${tier} tier`, async () => {
      assert.equal(await call(`chain-${tier}`, `echo-${tier}\nthrough the chain`), 'through the chain')
      assert.match(await call(`chain-${tier}`, `sha-${tier}\nhello world`), /^309ecc489c12d6eb/)
      assert.equal(await call(`chain-${tier}`, `echo-${tier}\n${'y'.repeat(20_000)}`), 'y'.repeat(20_000), 'bodies past the first buffer come through result_read')
      assert.equal(await call(`chain-${tier}`, `chain-${tier}\necho-${tier}\nnested`), 'nested')
    })

    it(`does not reach functions of other applications on the ${tier} tier`, async () => {
      assert.equal(await call(`chain-${tier}`, 'echo-elsewhere\nx'), 'kindling.call failed with -1\n')
      assert.equal(await call(`chain-${tier}`, 'nobody\nx'), 'kindling.call failed with -1\n')
    })
  }

  for (const tier of ['thread', 'process']) {
    it(`says the ${tier} tier has no chained calls (-4), not that the callee is missing`, async () => {
      // each sandbox of these tiers is a thread or process of its own: no other function is in reach
      assert.equal(await call(`chain-${tier}`, `echo-${tier}\nx`), 'kindling.call failed with -4\n')
    })
  }

  it('stops runaway recursion at the depth limit', async () => {
    // chain calling itself forever: every level asks for another level
    const body = Array.from({ length: 12 }, () => 'chain-wasm').join('\n') + '\nend'
    assert.equal(await call('chain-wasm', body), 'kindling.call failed with -2\n')
  })

  it('keeps the caller deadline in the callee', async () => {
    await k.deploy('spin', await wat(wasiCommand('(loop $l (br $l))')), { labels: { 'com.kindling.app': 'pipeline-wasm' } })
    await k.deploy('chain-short', exampleModule('chain'), { labels: { 'com.kindling.app': 'pipeline-wasm', 'com.kindling.timeout': '300ms' } })
    await waitWarm(k, 'chain-short')
    const t0 = Date.now()
    const r = await k.app.inject({ method: 'POST', url: '/function/chain-short', payload: 'spin\nx' })
    assert.ok(Date.now() - t0 < 2000, `answered after ${Date.now() - t0} ms`)
    // the callee's 504 comes back to the caller as a status; this caller answers with its body
    assert.match(r.body, /ran past its timeout/)
  })
})
