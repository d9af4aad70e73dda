import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startKindling, type TestKindling } from '../../helpers/kindling.js'

describe('secret values: what /system/secrets refuses', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling({ maxSecretBytes: 1024 })
  })
  after(() => k.cleanup())
  const sys = (method: 'POST' | 'PUT', payload: unknown) => k.app.inject({ method, url: '/system/secrets', headers: k.auth, payload: payload as Record<string, unknown> })
  const refused = async (payload: unknown, status: number, code: string) => {
    for (const method of ['POST', 'PUT'] as const) {
      const res = await sys(method, payload)
      assert.equal(res.statusCode, status, `${method} ${JSON.stringify(payload).slice(0, 80)}: ${res.body}`)
      assert.equal(res.headers['x-kindling-error'], code)
    }
  }

  it('refuses a rawValue that is not standard base64 instead of storing what is left of it', async () => {
    for (const rawValue of ['not base64!', '%%%%', 'abc', 'YWJj=', 'YW Jj', 'YWJj\n', '-_-_', 'YQ', '====']) {
      await refused({ name: `r${rawValue.length}`, rawValue }, 400, 'KINDLING_ERR_INVALID_SECRET_VALUE')
    }
    assert.deepEqual((await k.app.inject({ method: 'GET', url: '/system/secrets', headers: k.auth })).json(), [], 'nothing stored')
  })

  it('refuses value and rawValue both, neither, wrong types, empty names and oversize values', async () => {
    await refused({ name: 'both', value: 'a', rawValue: 'YQ==' }, 400, 'KINDLING_ERR_INVALID_SECRET_VALUE')
    await refused({ name: 'neither' }, 400, 'KINDLING_ERR_MISSING_FIELD')
    await refused({ name: 'empty', value: '' }, 400, 'KINDLING_ERR_MISSING_FIELD')
    await refused({ name: 'num', value: 12 }, 400, 'KINDLING_ERR_INVALID_SECRET_VALUE')
    await refused({ name: 'arr', rawValue: ['YQ=='] }, 400, 'KINDLING_ERR_INVALID_SECRET_VALUE')
    await refused({ name: '', value: 'x' }, 400, 'KINDLING_ERR_INVALID_NAME')
    await refused({ value: 'x' }, 400, 'KINDLING_ERR_INVALID_NAME')
    await refused({ name: 'big', value: 'x'.repeat(1025) }, 400, 'KINDLING_ERR_INVALID_SECRET_VALUE')
    await refused({ name: 'bigraw', rawValue: Buffer.alloc(1025).toString('base64') }, 400, 'KINDLING_ERR_INVALID_SECRET_VALUE')
    await refused({ name: 'bigutf8', value: 'é'.repeat(513) }, 400, 'KINDLING_ERR_INVALID_SECRET_VALUE')
  })

  it('stores exactly the bytes of a valid rawValue and a value at the size limit', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254])
    assert.equal((await sys('POST', { name: 'raw', rawValue: bytes.toString('base64') })).statusCode, 201)
    assert.deepEqual(k.secrets.read('openfaas-fn', 'raw'), bytes)
    assert.equal((await sys('POST', { name: 'max', rawValue: Buffer.alloc(1024, 7).toString('base64') })).statusCode, 201)
    assert.equal((await sys('PUT', { name: 'max', value: 'y'.repeat(1024) })).statusCode, 202)
    assert.equal(k.secrets.read('openfaas-fn', 'max')?.length, 1024)
  })
})
