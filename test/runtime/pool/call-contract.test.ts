// The pool's side of the tier contract: the deadline is an input the pool computes when a call
// starts on a sandbox (the caller's request is never written to), and a queued call whose caller
// left is dropped from the queue.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { CallRequest } from '../../../runtime/pool/dispatcher.js'
import { exampleModule, startKindling, type TestKindling, waitWarm } from '../../helpers/kindling.js'

const request = (body: string): CallRequest => ({ callId: `c-${body}`, method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from(body) })

describe('pool: the call contract', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling()
    await k.deploy('contract-echo', exampleModule('echo'), { labels: { 'com.kindling.isolation': 'inline', 'com.openfaas.scale.max': '1' } })
    await waitWarm(k, 'contract-echo')
  })
  after(() => k?.cleanup())

  it('leaves the caller\'s request as it was: the deadline is the pool\'s input to the sandbox', async () => {
    const req = request('hello')
    const frozen = Object.freeze({ ...req })
    const r = await k.dispatcher.invoke('contract-echo', 'openfaas-fn', frozen, new AbortController().signal)
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), 'hello')
    assert.deepEqual(Object.keys(frozen).sort(), Object.keys(req).sort(), 'nothing was added to the caller\'s object')
  })
})
