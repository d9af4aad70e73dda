// wasi:keyvalue for components (issue 13 item 2): a JavaScript handler built by `kindling build`'s
// JS path (esbuild + componentize-js, world including wasi:keyvalue/imports@0.2.0-draft2), deployed
// with a store grant, counts, lists and compare-and-swaps in its store; a store not granted is
// access-denied, a key too long other("KINDLING_ERR_KV_KEY_TOO_LARGE: ...").
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Bucket, keyvalueImports } from '../../../isolation/component/host/keyvalue.js'
import { WitError } from '../../../isolation/component/host/io.js'
import { buildOne } from '../../../runtime/cli/build.js'
import { startKindling, tempDataDir, type TestKindling } from '../../helpers/kindling.js'

const HANDLER = `
import { open } from 'wasi:keyvalue/store@0.2.0-draft2'
import { increment, Cas, swap } from 'wasi:keyvalue/atomics@0.2.0-draft2'

const text = (b) => (b === undefined ? null : new TextDecoder().decode(b))
const bytes = (s) => new TextEncoder().encode(s)

export default {
  async fetch(request) {
    const url = new URL(request.url)
    const q = (name, dflt) => url.searchParams.get(name) ?? dflt
    try {
      const bucket = open(q('store', 'counters'))
      switch (url.pathname) {
        case '/inc':
          return new Response('count=' + increment(bucket, q('key', 'hits'), 1n))
        case '/put-list': {
          for (const k of ['b', 'a', 'c']) bucket.set('list/' + k, bytes(k.toUpperCase()))
          bucket.delete('list/c')
          const listed = bucket.listKeys(undefined)
          return Response.json({ keys: listed.keys.filter((k) => k.startsWith('list/')), cursor: listed.cursor ?? null, a: text(bucket.get('list/a')), c: text(bucket.get('list/c')), exists: bucket.exists('list/b') })
        }
        case '/cas': {
          bucket.set('cas', bytes('one'))
          const c = Cas.new(bucket, 'cas')
          const stale = Cas.new(bucket, 'cas')
          const seen = text(c.current())
          swap(c, bytes('two'))
          let conflict = null
          try {
            swap(stale, bytes('three'))
          } catch (e) {
            conflict = e.payload?.tag ?? String(e)
          }
          return Response.json({ now: text(bucket.get('cas')), seen, conflict })
        }
      }
      return new Response('no such path', { status: 404 })
    } catch (e) {
      return Response.json({ error: e.payload ?? String(e) }, { status: 500 })
    }
  },
}
`

describe('wasi:keyvalue for components', () => {
  let k: TestKindling
  let work: string
  before(async () => {
    k = await startKindling({ kvMaxKeyBytes: 16 })
    work = tempDataDir('kindling-kv-component-')
    const dir = path.join(work, 'counter')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'handler.js'), HANDLER)
    fs.writeFileSync(path.join(dir, 'build.yml'), 'lang: js\nentry: handler.js\n')
    const out = path.join(dir, 'build', 'counter.wasm')
    await buildOne({ name: 'counter', lang: 'js', dir, out }, k.config, { log: () => {} })
    const image = await k.upload(out)
    for (const [name, tier] of [['counter', 'wasm'], ['counter-inline', 'inline']] as const) {
      const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: name, image, labels: { 'com.kindling.isolation': tier, 'com.kindling.app': 'shop' }, annotations: { 'com.kindling.kv': 'counters,other' } } })
      assert.equal(res.statusCode, 202, res.body)
    }
  })
  after(async () => {
    await k?.cleanup()
    if (work) fs.rmSync(work, { recursive: true, force: true })
  })

  const call = async (fn: string, url: string) => {
    const r = await k.app.inject({ method: 'GET', url: `/function/${fn}${url}` })
    return { status: r.statusCode, body: r.body }
  }

  it('counts across calls, and two functions of one application share the store', async () => {
    assert.deepEqual(await call('counter', '/inc'), { status: 200, body: 'count=1' })
    assert.deepEqual(await call('counter', '/inc'), { status: 200, body: 'count=2' })
    assert.deepEqual(await call('counter-inline', '/inc'), { status: 200, body: 'count=3' })
    assert.deepEqual(await call('counter', '/inc?store=other'), { status: 200, body: 'count=1' })
  })

  it('a store not granted is access-denied; a key too long is other(KINDLING_ERR_KV_KEY_TOO_LARGE)', async () => {
    const denied = await call('counter', '/inc?store=secrets')
    assert.equal(denied.status, 500)
    assert.deepEqual(JSON.parse(denied.body), { error: { tag: 'access-denied' } })
    const long = await call('counter', `/inc?key=${'k'.repeat(17)}`)
    assert.equal(long.status, 500)
    const err = JSON.parse(long.body).error
    assert.equal(err.tag, 'other')
    assert.match(err.val, /^KINDLING_ERR_KV_KEY_TOO_LARGE: keys are 1 to 16 bytes/)
  })

  it('sets, gets, deletes, lists and compare-and-swaps', async () => {
    const listed = await call('counter', '/put-list')
    assert.equal(listed.status, 200, listed.body)
    assert.deepEqual(JSON.parse(listed.body), { keys: ['list/a', 'list/b'], cursor: null, a: 'A', c: null, exists: true })
    const cas = await call('counter-inline', '/cas')
    assert.equal(cas.status, 200, cas.body)
    assert.deepEqual(JSON.parse(cas.body), { now: 'two', seen: 'one', conflict: 'cas-failed' })
  })
})

describe('the wasi:keyvalue host, called as the bindings call it', () => {
  let dir: string
  /* eslint-disable @typescript-eslint/no-explicit-any */
  let kv: Record<string, any>
  before(() => {
    dir = tempDataDir('kindling-kv-host-')
    kv = keyvalueImports({ dir, namespace: 'openfaas-fn', app: 'shop', stores: ['s'], limits: { maxKeyBytes: 8, maxValueBytes: 4, maxStoreBytes: 4096 } })
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const errOf = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      assert.ok(e instanceof WitError, String(e))
      return e.payload
    }
    assert.fail('expected an err result')
  }

  it('opens only granted stores; batch, paging, limits and increment errors', () => {
    assert.deepEqual(errOf(() => kv['wasi:keyvalue/store'].open('t')), { tag: 'access-denied' })
    const b = kv['wasi:keyvalue/store'].open('s') as Bucket
    assert.equal(kv['wasi:keyvalue/store'].open('s'), b)
    const batch = kv['wasi:keyvalue/batch']
    batch.setMany(b, [['x', Buffer.from('1')], ['y', Buffer.from('2')]])
    assert.deepEqual(batch.getMany(b, ['x', 'nope']).map((e: [string, Uint8Array] | undefined) => e && [e[0], Buffer.from(e[1]).toString()]), [['x', '1'], undefined])
    batch.deleteMany(b, ['x', 'y'])
    assert.equal(b.exists('x'), false)
    for (let i = 0; i < 150; i++) b.set(`k${String(i).padStart(3, '0')}`, Buffer.from('v'))
    const first = b.listKeys(undefined)
    assert.equal(first.keys.length, 100)
    assert.equal(first.cursor, 'k099')
    const second = b.listKeys(first.cursor)
    assert.deepEqual([second.keys.length, second.keys[0], second.cursor], [50, 'k100', undefined])
    assert.match((errOf(() => b.set('k', Buffer.from('12345'))) as { val: string }).val, /^KINDLING_ERR_KV_VALUE_TOO_LARGE: /)
    assert.match((errOf(() => b.get('')) as { val: string }).val, /^KINDLING_ERR_KV_KEY_TOO_LARGE: /)
    b.set('word', Buffer.from('abc'))
    const atomics = kv['wasi:keyvalue/atomics']
    assert.match((errOf(() => atomics.increment(b, 'word', 1n)) as { val: string }).val, /^KINDLING_ERR_KV_NOT_A_NUMBER: /)
    assert.equal(atomics.increment(b, 'n', -5n), -5n)
    const c = atomics.Cas.new(b, 'new')
    assert.equal(c.current(), undefined)
    atomics.swap(c, Buffer.from('made'))
    const conflict = errOf(() => atomics.swap(c, Buffer.from('agn'))) as { tag: string; val: { current(): Uint8Array } }
    assert.equal(conflict.tag, 'cas-failed')
    assert.equal(Buffer.from(conflict.val.current()).toString(), 'made')
    assert.deepEqual(errOf(() => atomics.swap(c, Buffer.from('12345'))), { tag: 'store-error', val: { tag: 'other', val: 'KINDLING_ERR_KV_VALUE_TOO_LARGE: values are at most 4 bytes (KINDLING_KV_MAX_VALUE_BYTES), this one is 5' } })
  })
})
