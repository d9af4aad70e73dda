// /system/kv (issue 13 item 2): the operator lists, reads, writes and empties the stores functions
// keep, over real HTTP on loopback, with basic auth; errors carry codes; /function cannot reach it.
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { SqliteKvBackend } from '../../../isolation/wasm/host/kv-sqlite.js'
import { spawnCli } from '../../helpers/cli.js'
import { startKindling, type TestKindling } from '../../helpers/kindling.js'

describe('/system/kv: the operator API for key-value stores', () => {
  let k: TestKindling
  let base: string
  let fnSide: SqliteKvBackend
  before(async () => {
    k = await startKindling({ host: '127.0.0.1', kvMaxKeyBytes: 32 })
    base = await k.listen()
    // what a function of application "shop" granted store "carts" writes (the same files)
    fnSide = new SqliteKvBackend(path.join(k.config.dataDirAbs, 'kv'), { maxKeyBytes: 32, maxValueBytes: 1 << 20, maxStoreBytes: 1 << 20 })
    const carts = fnSide.open('openfaas-fn', 'shop', 'carts')
    for (let i = 0; i < 5; i++) carts.set(Buffer.from(`cart/${i}`), Buffer.from(`items ${i}`), 0)
    carts.set(Buffer.from('other'), Buffer.from('x'), 0)
  })
  after(async () => {
    fnSide?.close()
    await k?.cleanup()
  })

  const req = (p: string, init: RequestInit = {}, auth = true) => fetch(`${base}${p}`, { ...init, headers: { ...(auth ? k.auth : {}), ...(init.headers as Record<string, string> | undefined) } })
  const code = (r: Response) => r.headers.get('x-kindling-error') ?? r.json().then((b: { code?: string }) => b.code)

  it('lists the stores of a namespace with their size and key count', async () => {
    const r = await req('/system/kv/stores')
    assert.equal(r.status, 200)
    const stores = (await r.json()) as { app: string; store: string; bytes: number; keys: number }[]
    assert.deepEqual(stores.map((s) => [s.app, s.store, s.keys]), [['shop', 'carts', 6]])
    assert.equal(stores[0]!.bytes, 5 * ('cart/0'.length + 'items 0'.length) + 'other'.length + 1)
    assert.deepEqual(await (await req('/system/kv/stores?namespace=openfaas-fn')).json(), stores)
  })

  it('lists keys by prefix, page by page with the cursor', async () => {
    const first = (await (await req('/system/kv/stores/shop/carts/keys?prefix=cart/&limit=2')).json()) as { keys: string[]; cursor: string | null }
    assert.deepEqual(first, { keys: ['cart/0', 'cart/1'], cursor: 'cart/1' })
    const pages = [first.keys]
    let cursor: string | null = first.cursor
    for (let i = 0; i < 5 && cursor; i++) {
      const p = (await (await req(`/system/kv/stores/shop/carts/keys?prefix=cart/&limit=2&cursor=${encodeURIComponent(cursor)}`)).json()) as { keys: string[]; cursor: string | null }
      pages.push(p.keys)
      cursor = p.cursor
    }
    assert.deepEqual(pages, [['cart/0', 'cart/1'], ['cart/2', 'cart/3'], ['cart/4']])
    assert.deepEqual(((await (await req('/system/kv/stores/shop/carts/keys')).json()) as { keys: string[] }).keys.length, 6)
  })

  it('gets, puts and deletes a key; the function sees the operator write', async () => {
    const got = await req('/system/kv/stores/shop/carts/keys/cart%2F3')
    assert.equal(got.status, 200)
    assert.equal(got.headers.get('content-type'), 'application/octet-stream')
    assert.equal(await got.text(), 'items 3')
    const put = await req('/system/kv/stores/shop/carts/keys/cart%2F3', { method: 'PUT', body: Buffer.from([0, 1, 2, 255]), headers: { 'content-type': 'application/octet-stream' } })
    assert.equal(put.status, 204)
    assert.deepEqual([...fnSide.open('openfaas-fn', 'shop', 'carts').get(Buffer.from('cart/3'))!], [0, 1, 2, 255])
    assert.equal((await req('/system/kv/stores/shop/carts/keys/cart%2F3', { method: 'DELETE' })).status, 204)
    const gone = await req('/system/kv/stores/shop/carts/keys/cart%2F3')
    assert.equal(gone.status, 404)
    assert.equal(await code(gone), 'KINDLING_ERR_KV_NOT_FOUND')
    assert.equal((await req('/system/kv/stores/shop/carts/keys/cart%2F3', { method: 'DELETE' })).status, 404)
  })

  it('refuses unknown stores (404), bad names and empty keys (400), long keys (413), with codes', async () => {
    const cases: [string, RequestInit, number, string][] = [
      ['/system/kv/stores/shop/nope/keys', {}, 404, 'KINDLING_ERR_KV_STORE_NOT_FOUND'],
      ['/system/kv/stores/shop/nope/keys/a', {}, 404, 'KINDLING_ERR_KV_STORE_NOT_FOUND'],
      ['/system/kv/stores/shop/nope', { method: 'DELETE' }, 404, 'KINDLING_ERR_KV_STORE_NOT_FOUND'],
      ['/system/kv/stores/shop/Bad.Name/keys', {}, 400, 'KINDLING_ERR_KV_INVALID_REQUEST'],
      ['/system/kv/stores/shop/carts/keys/', {}, 400, 'KINDLING_ERR_KV_INVALID_REQUEST'],
      ['/system/kv/stores/shop/carts/keys?limit=0', {}, 400, 'KINDLING_ERR_KV_INVALID_REQUEST'],
      [`/system/kv/stores/shop/carts/keys/${'k'.repeat(33)}`, { method: 'PUT', body: 'v' }, 413, 'KINDLING_ERR_KV_KEY_TOO_LARGE'],
      ['/system/kv/stores/shop/carts/keys/a?ttlMs=-1', { method: 'PUT', body: 'v' }, 400, 'KINDLING_ERR_KV_INVALID_REQUEST'],
      ['/system/kv/stores?namespace=nope', {}, 400, ''],
    ]
    for (const [p, init, status, c] of cases) {
      const r = await req(p, init)
      assert.equal(r.status, status, `${init.method ?? 'GET'} ${p}`)
      if (c) assert.equal(await code(r), c, p)
    }
  })

  it('needs the operator credentials; /function does not reach it', async () => {
    const r = await req('/system/kv/stores', {}, false)
    assert.equal(r.status, 401)
    const put = await req('/system/kv/stores/shop/carts/keys/x', { method: 'PUT', body: 'v' }, false)
    assert.equal(put.status, 401)
    const viaFunction = await req('/function/system/kv/stores', {}, false)
    assert.notEqual(viaFunction.status, 200)
    assert.equal(fnSide.open('openfaas-fn', 'shop', 'carts').get(Buffer.from('x')), undefined)
  })

  it('empties a whole store; it stays listed with no keys', async () => {
    assert.equal((await req('/system/kv/stores/shop/carts', { method: 'DELETE' })).status, 204)
    const stores = (await (await req('/system/kv/stores')).json()) as { keys: number; bytes: number }[]
    assert.deepEqual(stores.map((s) => [s.keys, s.bytes]), [[0, 0]])
    assert.equal(fnSide.open('openfaas-fn', 'shop', 'carts').get(Buffer.from('other')), undefined)
  })

  it('kindling kv: put, get, keys, stores and delete from a real CLI process', async () => {
    const cli = async (...args: string[]) => {
      const c = spawnCli(['kv', ...args, '--gateway', base, '--data-dir', k.config.dataDirAbs])
      c.stdin?.end()
      const code = await new Promise<number | null>((r) => c.on('exit', r))
      return { code, out: c.output(), err: c.errors() }
    }
    assert.equal((await cli('put', 'shop', 'notes', 'a/b', '--data', 'hello')).code, 0)
    assert.deepEqual(await cli('get', 'shop', 'notes', 'a/b'), { code: 0, out: 'hello', err: '' })
    assert.equal((await cli('keys', 'shop', 'notes', '--prefix', 'a/')).out, 'a/b\n')
    assert.match((await cli('stores')).out, /^APP\s+STORE\s+KEYS\s+BYTES\n(.*\n)*shop\s+notes\s+1\s+8\n/)
    assert.equal((await cli('delete', 'shop', 'notes', 'a/b')).code, 0)
    const missing = await cli('get', 'shop', 'notes', 'a/b')
    assert.equal(missing.code, 1)
    assert.match(missing.err, /HTTP 404: KINDLING_ERR_KV_NOT_FOUND/)
  })
})
