import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CallCancel } from '../../../runtime/gateway/cancel.js'

describe('a call\'s cancel signal (CallCancel)', () => {
  it('calls each listener still added once, at the first abort only, like an AbortSignal', () => {
    const c = new CallCancel()
    const seen: string[] = []
    const gone = () => seen.push('removed')
    c.addEventListener('abort', () => seen.push('a'))
    c.addEventListener('abort', gone)
    c.addEventListener('abort', () => seen.push('b'), { once: true })
    c.removeEventListener('abort', gone)
    assert.equal(c.aborted, false)
    c.abort()
    c.abort()
    assert.equal(c.aborted, true)
    c.addEventListener('abort', () => seen.push('late'))
    assert.deepEqual(seen, ['a', 'b'])
  })

  it('runs the other listeners when one throws, and abort itself does not throw', () => {
    const c = new CallCancel()
    let ran = false
    c.addEventListener('abort', () => {
      throw new Error('listener bug (expected in this test)')
    })
    c.addEventListener('abort', () => (ran = true))
    c.abort()
    assert.equal(ran, true)
  })
})
