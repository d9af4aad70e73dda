// Preemption of code without loops: recursion (exponential, tail calls) is stopped at its
// deadline by the checks at function entries, on the inline tier (the gateway's own thread) and
// the wasm tier; recursion past the stack limit traps cleanly.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { WasmTier } from '../../../isolation/apphost/wasm-tier.js'
import { startKindling, type TestKindling, waitWarm } from '../../helpers/kindling.js'
import { wat } from '../../helpers/wat.js'
import { DEEP_RECURSION, FIB_RECURSION, TAIL_RECURSION } from './recursion.js'

const TIERS = ['inline', 'wasm'] as const
const MODULES = { fib: FIB_RECURSION(), tail: TAIL_RECURSION(), deep: DEEP_RECURSION }

describe('preemption without loops', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling()
    for (const tier of TIERS) {
      for (const [what, source] of Object.entries(MODULES)) {
        const labels = { 'com.kindling.isolation': tier, 'com.kindling.timeout': '300ms', 'com.kindling.app': `recursion-${tier}` }
        await k.deploy(`${what}-${tier}`, await wat(source), { labels })
      }
      await waitWarm(k, `fib-${tier}`)
    }
  })
  after(() => k?.cleanup())

  const call = async (fn: string) => {
    const r = await k.app.inject({ method: 'POST', url: `/function/${fn}`, payload: '' })
    return { status: r.statusCode, code: r.headers['x-kindling-error'], body: r.body }
  }
  const healthz = async () => (await k.app.inject({ method: 'GET', url: '/healthz' })).statusCode

  for (const tier of TIERS) {
    for (const what of ['fib', 'tail'] as const) {
      it(`stops ${what === 'fib' ? 'loop-free exponential recursion' : 'return_call tail recursion'} at its timeout on the ${tier} tier`, async () => {
        // the call itself stops: its app host is not killed as a backstop (with its other calls)
        const host = () => (k.tiers.get('wasm') as WasmTier).hosts.running(`recursion-${tier}`)?.pid
        const pid = host()
        const pending = call(`${what}-${tier}`)
        // the wasm tier runs it in an app host: the gateway answers meanwhile; inline, right after
        if (tier === 'wasm') assert.equal(await healthz(), 200)
        const r = await pending
        assert.equal(r.status, 504, r.body)
        assert.equal(r.code, 'KINDLING_ERR_TIMEOUT')
        assert.equal(await healthz(), 200)
        assert.equal(host(), pid, 'the same app host serves the application')
        // the function's next call is stopped the same way
        assert.equal((await call(`${what}-${tier}`)).code, 'KINDLING_ERR_TIMEOUT')
      })
    }

    it(`stops recursion without end at the stack limit with a clear code on the ${tier} tier`, async () => {
      for (let i = 0; i < 2; i++) {
        const r = await call(`deep-${tier}`)
        assert.equal(r.status, 500, r.body)
        assert.equal(r.code, 'KINDLING_ERR_STACK_OVERFLOW')
        assert.match(r.body, /recursed too deep/)
      }
      assert.equal(await healthz(), 200)
    })
  }
})
