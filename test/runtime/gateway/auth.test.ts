import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { startKindling, type TestKindling } from '../../helpers/kindling.js'

describe('basic auth on /system/*', () => {
  let k: TestKindling
  let token: string
  before(async () => {
    k = await startKindling()
    await k.listen()
    token = Buffer.from(`${k.credentials!.user}:${k.credentials!.password}`).toString('base64')
  })
  after(() => k.cleanup())

  const get = (authorization?: string) => k.app.inject({ method: 'GET', url: '/system/functions', headers: authorization === undefined ? {} : { authorization } })

  it('takes the scheme name in any case (RFC 7617) and spaces around the token', async () => {
    for (const scheme of ['Basic', 'basic', 'BASIC', 'bAsIc']) {
      assert.equal((await get(`${scheme} ${token}`)).statusCode, 200, scheme)
    }
    assert.equal((await get(`Basic   ${token}  `)).statusCode, 200)
  })

  it('answers 401 with a code, never 500, to malformed or wrong Authorization headers', async () => {
    const bad = [
      '', 'Basic', 'Basic ', 'basic', `Bearer ${token}`, `Basic${token}`, 'Basic !!!not-base64!!!', 'Basic ====', `Basic ${token} extra`,
      `Basic ${Buffer.from('admin').toString('base64')}`, `Basic ${Buffer.from(':').toString('base64')}`, `Basic ${'A'.repeat(10_000)}`,
      `Basic ${Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('base64')}`, 'Digest username="admin"', `${token}`,
    ]
    for (const h of bad) {
      const res = await get(h)
      assert.equal(res.statusCode, 401, JSON.stringify(h.slice(0, 40)))
      assert.equal(res.headers['x-kindling-error'], 'KINDLING_ERR_UNAUTHORIZED')
      assert.match(String(res.headers['www-authenticate']), /^Basic realm=/)
    }
    assert.equal((await get()).statusCode, 401)
  })

  it('answers 401 over a real socket to raw Authorization bytes and repeated headers', async () => {
    const port = Number(new URL(k.url!).port)
    const raw = (head: string) => new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.end(`GET /system/functions HTTP/1.1\r\nHost: x\r\n${head}Connection: close\r\n\r\n`))
      let out = ''
      s.setEncoding('latin1')
      s.on('data', (d) => (out += d))
      s.on('end', () => resolve(out))
      s.on('error', reject)
    })
    for (const head of [`Authorization: Basic\t${token}x\r\n`, 'Authorization: Basic \xe9\xe9\xe9\r\n', `Authorization: Basic ${token}x\r\nAuthorization: Basic ${token}\r\n`]) {
      const res = await raw(head)
      assert.match(res, /^HTTP\/1\.1 (401|400) /, res.slice(0, 80))
    }
    assert.match(await raw(`authorization: basic ${token}\r\n`), /^HTTP\/1\.1 200 /)
  })
})
