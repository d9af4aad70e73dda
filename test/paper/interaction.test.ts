// R8's caller (functions/c/call-timer.c): one function that calls another locally (kindling.call)
// or through the gateway's /function/ URL (outbound HTTP import), and times each call itself.
// A real gateway on loopback, real app hosts.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { callTimes, interactionCells } from '../../paper/experiments/r8-interaction.js'
import { exampleModule, startKindling, type TestKindling } from '../helpers/kindling.js'

describe('R8: call-timer calls the same callee on both paths', () => {
  let k: TestKindling
  let url: string
  before(async () => {
    k = await startKindling()
    url = await k.listen()
    const origin = new URL(url).origin
    await k.deploy('r8-caller', exampleModule('call-timer'), { labels: { 'com.kindling.app': 'r8' }, annotations: { 'com.kindling.outbound': origin } })
    await k.deploy('r8-echo', exampleModule('echo'), { labels: { 'com.kindling.app': 'r8' } })
    await k.deploy('r8-echo-cold', exampleModule('echo'), { labels: { 'com.kindling.app': 'r8', 'com.kindling.reset': 'reinstantiate', 'com.kindling.prewarm': 'false' } })
    await k.deploy('r8g-echo', exampleModule('echo'), { labels: { 'com.kindling.app': 'r8-global' } })
    await k.deploy('r8g-echo-cold', exampleModule('echo'), { labels: { 'com.kindling.app': 'r8-global', 'com.kindling.reset': 'reinstantiate', 'com.kindling.prewarm': 'false' } })
  })
  after(async () => {
    await k?.cleanup()
  })

  it('answers one time per call for each of the four cells', async () => {
    for (const cell of interactionCells(new URL(url))) {
      const res = await fetch(new URL('/function/r8-caller', url), { method: 'POST', body: `${cell.head(3)}\nhello`, headers: { 'content-type': 'text/plain' } })
      const text = await res.text()
      assert.equal(res.status, 200, `${cell.key}: ${text}`)
      const t = callTimes(text)
      assert.equal(t.length, 3, cell.key)
      for (const x of t) assert.ok(Number.isFinite(x) && x > 0, `${cell.key}: ${text}`)
    }
  })

  it('says why when a call fails (a URL the function was not granted)', async () => {
    const res = await fetch(new URL('/function/r8-caller', url), { method: 'POST', body: 'global http://127.0.0.2:9/function/x 1\nhello', headers: { 'content-type': 'text/plain' } })
    const text = await res.text()
    assert.equal(res.status, 502, text)
    assert.match(text, /^ERROR call 0 .* answered -1: KINDLING_ERR_OUTBOUND_DENIED/)
    assert.throws(() => callTimes(text), /call-timer answered: ERROR/)
  })
})
