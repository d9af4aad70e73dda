// What every KvBackend does (SQLite on one node, JetStream KV in a cluster): limits, TTL,
// compare-and-swap, increment, listing, and that two applications' stores of one name are apart.
// kv-sqlite.test.ts and kv-jetstream.test.ts run it against their backend.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { KV_ERROR, type KvBackend, type KvLimits } from '../../../isolation/wasm/host/kv-backend.js'

const b = (s: string) => Buffer.from(s)
export const CONTRACT_LIMITS: KvLimits = { maxKeyBytes: 64, maxValueBytes: 256, maxStoreBytes: 1024 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `backend()` gives the backend under test (made with CONTRACT_LIMITS), `fresh()` another instance on the same storage. */
export function kvContract(backend: () => KvBackend, fresh: () => KvBackend): void {
  it('sets, gets and deletes', () => {
    const s = backend().open('openfaas-fn', 'shop', 'basic')
    assert.equal(s.get(b('a')), undefined)
    assert.equal(s.set(b('a'), b('1'), 0), 0)
    assert.deepEqual(s.get(b('a')), b('1'))
    assert.equal(s.set(b('a'), Buffer.from([0, 255, 10]), 0), 0)
    assert.deepEqual(s.get(b('a')), Buffer.from([0, 255, 10]))
    assert.equal(s.delete(b('a')), true)
    assert.equal(s.delete(b('a')), false)
    assert.equal(s.get(b('a')), undefined)
  })

  it('expires a key after its TTL', async () => {
    const s = backend().open('openfaas-fn', 'shop', 'ttl')
    s.set(b('t'), b('v'), 5)
    s.set(b('keep'), b('v'), 0)
    await sleep(10)
    assert.equal(s.get(b('t')), undefined)
    assert.deepEqual(s.listKeys(b(''), undefined, 10), [b('keep')])
    // an expired key counts as absent for CAS and increment too
    s.set(b('t2'), b('5'), 1)
    s.set(b('t3'), b('x'), 1)
    await sleep(5)
    assert.equal(s.increment(b('t2'), 1n), 1n)
    assert.equal(s.compareAndSwap(b('t3'), undefined, b('y'), 0), 1)
    assert.equal(s.delete(b('t3')), true)
  })

  it('compare-and-swap: swaps on a match, refuses on a conflict, "absent" as expectation', () => {
    const s = backend().open('openfaas-fn', 'shop', 'cas')
    assert.equal(s.compareAndSwap(b('k'), undefined, b('a'), 0), 1)
    assert.equal(s.compareAndSwap(b('k'), undefined, b('b'), 0), 0)
    assert.equal(s.compareAndSwap(b('k'), b('x'), b('b'), 0), 0)
    assert.equal(s.compareAndSwap(b('k'), b('a'), b('b'), 0), 1)
    assert.deepEqual(s.get(b('k')), b('b'))
    // after a delete the key is absent again
    s.delete(b('k'))
    assert.equal(s.compareAndSwap(b('k'), undefined, b('c'), 0), 1)
  })

  it('increments decimal integers and refuses anything else', () => {
    const s = backend().open('openfaas-fn', 'shop', 'inc')
    assert.equal(s.increment(b('n'), 1n), 1n)
    assert.equal(s.increment(b('n'), 41n), 42n)
    assert.equal(s.increment(b('n'), -50n), -8n)
    assert.deepEqual(s.get(b('n')), b('-8'))
    s.set(b('s'), b('abc'), 0)
    assert.equal(s.increment(b('s'), 1n), KV_ERROR.NOT_A_NUMBER)
    s.set(b('big'), b('9223372036854775807'), 0)
    assert.equal(s.increment(b('big'), 1n), KV_ERROR.NOT_A_NUMBER)
  })

  it('lists keys by prefix in pages, in byte order', () => {
    const s = backend().open('openfaas-fn', 'shop', 'list')
    for (const k of ['user:3', 'user:1', 'user:2', 'usez', 'other']) s.set(b(k), b('x'), 0)
    s.set(Buffer.from([0xff, 1]), b('x'), 0)
    s.set(Buffer.from([0x00]), b('x'), 0)
    assert.deepEqual(s.listKeys(b('user:'), undefined, 2).map(String), ['user:1', 'user:2'])
    assert.deepEqual(s.listKeys(b('user:'), b('user:2'), 2).map(String), ['user:3'])
    assert.deepEqual(s.listKeys(b('user:'), b('user:3'), 2), [])
    const all = s.listKeys(b(''), undefined, 10)
    assert.deepEqual(all, [Buffer.from([0]), b('other'), b('user:1'), b('user:2'), b('user:3'), b('usez'), Buffer.from([0xff, 1])])
    s.delete(b('user:2'))
    assert.deepEqual(s.listKeys(b('user:'), undefined, 10).map(String), ['user:1', 'user:3'])
  })

  it('refuses a write past the store size, and accepts it again after a delete', () => {
    const s = backend().open('openfaas-fn', 'shop', 'full')
    let i = 0
    while (s.set(b(`k${i}`), Buffer.alloc(200), 0) === 0) i++
    assert.equal(i, 5, '5 keys of 2 bytes with values of 200 bytes fit in 1024')
    assert.equal(s.set(b(`k${i}`), Buffer.alloc(200), 0), KV_ERROR.STORE_FULL)
    assert.equal(s.compareAndSwap(b(`k${i}`), undefined, Buffer.alloc(200), 0), KV_ERROR.STORE_FULL)
    // overwriting a value with one of the same size does not grow the store
    assert.equal(s.set(b('k0'), Buffer.alloc(200, 1), 0), 0)
    s.delete(b('k0'))
    assert.equal(s.set(b(`k${i}`), Buffer.alloc(200), 0), 0)
  })

  it('frees the room of expired entries when the store is full', async () => {
    const s = backend().open('openfaas-fn', 'shop', 'full-ttl')
    for (let i = 0; i < 5; i++) assert.equal(s.set(b(`e${i}`), Buffer.alloc(200), i < 2 ? 1 : 0), 0)
    await sleep(5)
    assert.equal(s.set(b('new'), Buffer.alloc(200), 0), 0)
    assert.equal(s.set(b('new2'), Buffer.alloc(200), 0), 0)
    assert.equal(s.set(b('new3'), Buffer.alloc(200), 0), KV_ERROR.STORE_FULL)
  })

  it('keeps two applications\' stores of the same name apart, and another instance sees them', () => {
    backend().open('openfaas-fn', 'app-a', 'state').set(b('k'), b('a'), 0)
    backend().open('openfaas-fn', 'app-b', 'state').set(b('k'), b('b'), 0)
    backend().open('other-ns', 'app-a', 'state').set(b('k'), b('c'), 0)
    const again = fresh()
    try {
      assert.deepEqual(again.open('openfaas-fn', 'app-a', 'state').get(b('k')), b('a'))
      assert.deepEqual(again.open('openfaas-fn', 'app-b', 'state').get(b('k')), b('b'))
      assert.deepEqual(again.open('other-ns', 'app-a', 'state').get(b('k')), b('c'))
      assert.deepEqual(again.open('other-ns', 'app-a', 'state').listKeys(b(''), undefined, 10), [b('k')])
    } finally {
      again.close()
    }
  })
}
