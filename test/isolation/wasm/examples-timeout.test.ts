// The example functions answer any caller: they are deployed with a timeout of seconds, so that a
// fib(90) holds its app host for that long at most, not for KINDLING_EXEC_TIMEOUT_MS.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { EXAMPLE_TIMEOUT, EXAMPLES } from '../../../runtime/examples.js'
import { startKindling, type TestKindling } from '../../helpers/kindling.js'

describe('example functions', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling({ deployExamples: true, execTimeoutMs: 60_000 })
  })
  after(() => k?.cleanup())

  it('get a timeout of a few seconds, and fib(90) is stopped at it', async () => {
    for (const ex of EXAMPLES) {
      const fn = k.dispatcher.get(ex.name, 'openfaas-fn')
      if (!fn) continue // not built on this machine
      const want = ex.timeout ?? EXAMPLE_TIMEOUT
      assert.equal(fn.settings.timeoutMs, Number(want.replace(/s$/, '')) * 1000, `${ex.name}: ${fn.settings.timeoutMs} ms`)
    }
    const r = await k.app.inject({ method: 'POST', url: '/function/fib', payload: '90' })
    assert.equal(r.statusCode, 504, r.body)
    assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_TIMEOUT')
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/fib', payload: '10' })).body, '55\n')
  })
})
