// The kv_* and var_get imports against hostile arguments: pointers and lengths outside the guest's
// memory, unknown handles and small buffers get codes, never a host exception or a read elsewhere.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, describe, it } from 'node:test'
import { KV_ERROR } from '../../../isolation/wasm/host/kv-backend.js'
import { kvImports } from '../../../isolation/wasm/host/kv-imports.js'
import { tempDataDir } from '../../helpers/kindling.js'

type Fn = (...a: (number | bigint)[]) => number

describe('kindling kv imports', () => {
  const dir = tempDataDir('kindling-kvimp-')
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const memory = new WebAssembly.Memory({ initial: 1 })
  const bytes = new Uint8Array(memory.buffer)
  const plan = { dir, namespace: 'openfaas-fn', app: 'a', stores: ['s'], limits: { maxKeyBytes: 8, maxValueBytes: 16, maxStoreBytes: 4096 } }
  const imp = kvImports(plan, { v: 'value', none: null }, () => memory) as unknown as Record<string, Fn>
  const put = (at: number, s: string) => (bytes.set(Buffer.from(s), at), Buffer.byteLength(s))
  const END = bytes.length

  it('opens only granted stores; unknown handles are bad arguments', () => {
    assert.equal(imp.kv_open!(0, put(0, 'other')), KV_ERROR.NOT_GRANTED)
    assert.equal(imp.kv_open!(END - 1, 5), KV_ERROR.BAD_ARGUMENTS)
    assert.equal(imp.kv_open!(-1, 1), KV_ERROR.BAD_ARGUMENTS)
    assert.equal(imp.kv_open!(0, put(0, 's')), 0)
    assert.equal(imp.kv_get!(7, 0, 1, 100, 10), KV_ERROR.BAD_ARGUMENTS)
    assert.equal(imp.kv_list_keys!(3, 0, 0, 0, -1, 100, 100), KV_ERROR.BAD_ARGUMENTS)
  })

  it('refuses pointers past the memory, and sizes past the limits', () => {
    const k = put(0, 'key')
    assert.equal(imp.kv_set!(0, END - 2, k, 10, 1, 0n), KV_ERROR.BAD_ARGUMENTS)
    assert.equal(imp.kv_set!(0, 0, k, END - 1, 5, 0n), KV_ERROR.BAD_ARGUMENTS)
    assert.equal(imp.kv_set!(0, 0, -3, 10, 1, 0n), KV_ERROR.BAD_ARGUMENTS)
    assert.equal(imp.kv_get!(0, 0, k, END - 4, 100), KV_ERROR.BAD_ARGUMENTS)
    assert.equal(imp.kv_increment!(0, 0, k, 1n, END - 4), KV_ERROR.BAD_ARGUMENTS)
    assert.equal(imp.kv_set!(0, 0, 9, 100, 1, 0n), KV_ERROR.KEY_TOO_LARGE)
    assert.equal(imp.kv_set!(0, 0, 0, 100, 1, 0n), KV_ERROR.KEY_TOO_LARGE, 'an empty key')
    assert.equal(imp.kv_set!(0, 0, k, 100, 17, 0n), KV_ERROR.VALUE_TOO_LARGE)
    assert.equal(imp.kv_cas!(0, 0, k, 0, -1, 100, 17, 0n), KV_ERROR.VALUE_TOO_LARGE)
  })

  it('tells the full length when the buffer is short, and copies only what fits', () => {
    const k = put(0, 'key')
    const v = put(100, 'abcdefghij')
    assert.equal(imp.kv_set!(0, 0, k, 100, v, 0n), 0)
    bytes.fill(0, 200, 210)
    assert.equal(imp.kv_get!(0, 0, k, 200, 4), 10)
    assert.equal(Buffer.from(bytes.subarray(200, 206)).toString('latin1'), 'abcd\0\0')
    // a listing whose first key does not fit
    assert.equal(imp.kv_list_keys!(0, 0, 0, 0, -1, 300, 5), KV_ERROR.BUFFER_TOO_SMALL)
    assert.equal(imp.kv_list_keys!(0, 0, 0, 0, -1, 300, 7), 7)
    assert.equal(imp.kv_list_keys!(0, 0, 0, 0, k, 300, 7), 0, 'no key after the last')
  })

  it('reads only granted variables', () => {
    assert.equal(imp.var_get!(0, put(0, 'v'), 100, 50), 5)
    assert.equal(Buffer.from(bytes.subarray(100, 105)).toString(), 'value')
    assert.equal(imp.var_get!(0, put(0, 'none'), 100, 50), KV_ERROR.NOT_FOUND)
    assert.equal(imp.var_get!(0, put(0, 'PATH'), 100, 50), KV_ERROR.NOT_GRANTED)
    assert.equal(imp.var_get!(0, put(0, 'toString'), 100, 50), KV_ERROR.NOT_GRANTED, 'no inherited names')
    assert.equal(imp.var_get!(0, 1, END - 2, 50), KV_ERROR.BAD_ARGUMENTS)
  })

  it('denies every store and variable to a function granted none', () => {
    const none = kvImports(undefined, undefined, () => memory) as unknown as Record<string, Fn>
    assert.equal(none.kv_open!(0, put(0, 's')), KV_ERROR.NOT_GRANTED)
    assert.equal(none.var_get!(0, put(0, 'v'), 100, 50), KV_ERROR.NOT_GRANTED)
  })
})
