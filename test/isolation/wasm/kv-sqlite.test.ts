// The SQLite KvBackend on its own: limits, TTL, compare-and-swap, increment, listing, and that two
// applications' stores of the same name are different files.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, describe, it } from 'node:test'
import { KV_ERROR } from '../../../isolation/wasm/host/kv-backend.js'
import { SqliteKvBackend } from '../../../isolation/wasm/host/kv-sqlite.js'
import { tempDataDir } from '../../helpers/kindling.js'

const b = (s: string) => Buffer.from(s)

describe('SQLite key-value backend', () => {
  const dir = tempDataDir('kindling-kv-')
  const kv = new SqliteKvBackend(dir, { maxKeyBytes: 64, maxValueBytes: 256, maxStoreBytes: 1024 })
  after(() => {
    kv.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('sets, gets and deletes; files are private', () => {
    const s = kv.open('openfaas-fn', 'shop', 'basic')
    assert.equal(s.set(b('a'), b('1'), 0), 0)
    assert.deepEqual(s.get(b('a')), b('1'))
    assert.equal(s.delete(b('a')), true)
    assert.equal(s.delete(b('a')), false)
    assert.equal(s.get(b('a')), undefined)
    assert.equal(fs.statSync(SqliteKvBackend.fileOf(dir, 'openfaas-fn', 'shop', 'basic')).mode & 0o777, 0o600)
    assert.throws(() => kv.open('openfaas-fn', 'shop', '../x'))
  })

  it('expires a key after its TTL', async () => {
    const s = kv.open('openfaas-fn', 'shop', 'ttl')
    s.set(b('t'), b('v'), 5)
    s.set(b('keep'), b('v'), 0)
    const until = Date.now() + 10
    while (Date.now() <= until) await new Promise((r) => setTimeout(r, 5))
    assert.equal(s.get(b('t')), undefined)
    assert.deepEqual(s.listKeys(b(''), undefined, 10), [b('keep')])
    // an expired key counts as absent for CAS and increment too
    s.set(b('t2'), b('5'), 1)
    const until2 = Date.now() + 5
    while (Date.now() <= until2) await new Promise((r) => setTimeout(r, 2))
    assert.equal(s.increment(b('t2'), 1n), 1n)
  })

  it('compare-and-swap: swaps on a match, refuses on a conflict, "absent" as expectation', () => {
    const s = kv.open('openfaas-fn', 'shop', 'cas')
    assert.equal(s.compareAndSwap(b('k'), undefined, b('a'), 0), 1)
    assert.equal(s.compareAndSwap(b('k'), undefined, b('b'), 0), 0)
    assert.equal(s.compareAndSwap(b('k'), b('x'), b('b'), 0), 0)
    assert.equal(s.compareAndSwap(b('k'), b('a'), b('b'), 0), 1)
    assert.deepEqual(s.get(b('k')), b('b'))
  })

  it('increments decimal integers and refuses anything else', () => {
    const s = kv.open('openfaas-fn', 'shop', 'inc')
    assert.equal(s.increment(b('n'), 1n), 1n)
    assert.equal(s.increment(b('n'), 41n), 42n)
    assert.equal(s.increment(b('n'), -50n), -8n)
    assert.deepEqual(s.get(b('n')), b('-8'))
    s.set(b('s'), b('abc'), 0)
    assert.equal(s.increment(b('s'), 1n), KV_ERROR.NOT_A_NUMBER)
    s.set(b('big'), b('9223372036854775807'), 0)
    assert.equal(s.increment(b('big'), 1n), KV_ERROR.NOT_A_NUMBER)
  })

  it('lists keys by prefix in pages', () => {
    const s = kv.open('openfaas-fn', 'shop', 'list')
    for (const k of ['user:1', 'user:2', 'user:3', 'usez', 'other']) s.set(b(k), b('x'), 0)
    assert.deepEqual(s.listKeys(b('user:'), undefined, 2).map(String), ['user:1', 'user:2'])
    assert.deepEqual(s.listKeys(b('user:'), b('user:2'), 2).map(String), ['user:3'])
    assert.deepEqual(s.listKeys(b('user:'), b('user:3'), 2), [])
    assert.deepEqual(s.listKeys(b(''), undefined, 10).length, 5)
  })

  it('refuses a write past the store size, and accepts it again after a delete', () => {
    const s = kv.open('openfaas-fn', 'shop', 'full')
    let i = 0
    while (s.set(b(`k${i}`), Buffer.alloc(200), 0) === 0) i++
    assert.ok(i >= 4 && i <= 5, `${i} values of 200 bytes fit in 1024`)
    assert.equal(s.set(b(`k${i}`), Buffer.alloc(200), 0), KV_ERROR.STORE_FULL)
    assert.equal(s.compareAndSwap(b(`k${i}`), undefined, Buffer.alloc(200), 0), KV_ERROR.STORE_FULL)
    // overwriting a value with one of the same size does not grow the store
    assert.equal(s.set(b('k0'), Buffer.alloc(200, 1), 0), 0)
    s.delete(b('k0'))
    assert.equal(s.set(b(`k${i}`), Buffer.alloc(200), 0), 0)
  })

  it('keeps two applications\' stores of the same name apart, and reopens from disk', () => {
    kv.open('openfaas-fn', 'app-a', 'state').set(b('k'), b('a'), 0)
    kv.open('openfaas-fn', 'app-b', 'state').set(b('k'), b('b'), 0)
    kv.open('other-ns', 'app-a', 'state').set(b('k'), b('c'), 0)
    const again = new SqliteKvBackend(dir, { maxKeyBytes: 64, maxValueBytes: 256, maxStoreBytes: 1024 })
    try {
      assert.deepEqual(again.open('openfaas-fn', 'app-a', 'state').get(b('k')), b('a'))
      assert.deepEqual(again.open('openfaas-fn', 'app-b', 'state').get(b('k')), b('b'))
      assert.deepEqual(again.open('other-ns', 'app-a', 'state').get(b('k')), b('c'))
    } finally {
      again.close()
    }
  })
})
