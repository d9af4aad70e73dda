import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { startKindling, type TestKindling } from '../../helpers/kindling.js'
import { sleeperModule, waitUntil } from '../ops/helpers.js'

describe('request bytes in flight are bounded', () => {
  let k: TestKindling
  let port: number
  const KiB = 1024
  before(async () => {
    k = await startKindling({ maxInflightBytes: 64 * KiB })
    port = Number(new URL(await k.listen()).port)
    await k.deploy('hold', await sleeperModule(1000), { labels: { 'com.openfaas.scale.min': '2', 'com.openfaas.scale.max': '2' } })
  })
  after(() => k.cleanup())

  const post = (body: Buffer, chunked = false) => new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/function/hold', agent: false, headers: chunked ? {} : { 'content-length': body.length } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    if (chunked) {
      // two writes: the gateway sees a chunked body arrive in parts
      req.write(body.subarray(0, body.length / 2))
      setTimeout(() => req.end(body.subarray(body.length / 2)), 50)
    } else {
      req.end(body)
    }
  })

  it('answers 503 with Retry-After and a code past the bound, by Content-Length and by bytes read of a chunked body', async () => {
    const first = post(Buffer.alloc(40 * KiB, 1))
    await waitUntil('the first call holds its bytes', () => k.inflight.bytes === 40 * KiB)
    for (const chunked of [false, true]) {
      const r = await post(Buffer.alloc(40 * KiB, 2), chunked)
      assert.equal(r.status, 503, `chunked=${chunked}: ${r.body}`)
      assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_INFLIGHT_BYTES')
      assert.equal(r.headers['retry-after'], '1')
    }
    assert.equal((await post(Buffer.alloc(10 * KiB, 3))).status, 200, 'a call that fits is served meanwhile')
    assert.equal((await first).status, 200)
    await waitUntil('every byte given back', () => k.inflight.bytes === 0)
    assert.equal((await post(Buffer.alloc(40 * KiB, 4), true)).status, 200, 'served once the bytes are back')
    await waitUntil('every byte given back', () => k.inflight.bytes === 0)
  })

  it('counts /async-function bodies against the same bound', async () => {
    const first = post(Buffer.alloc(40 * KiB, 1))
    await waitUntil('the first call holds its bytes', () => k.inflight.bytes === 40 * KiB)
    const r = await new Promise<{ status: number; code: unknown }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/async-function/hold', agent: false, headers: { 'content-length': 40 * KiB } }, (res) => {
        res.resume()
        resolve({ status: res.statusCode!, code: res.headers['x-kindling-error'] })
      })
      req.on('error', reject)
      req.end(Buffer.alloc(40 * KiB, 2))
    })
    assert.equal(r.status, 503)
    assert.equal(r.code, 'KINDLING_ERR_INFLIGHT_BYTES')
    assert.equal((await first).status, 200)
    await waitUntil('every byte given back', () => k.inflight.bytes === 0)
  })

  it('gives the bytes back for calls that fail, are too large or are cut off', async () => {
    const missing = await k.app.inject({ method: 'POST', url: '/function/nobody', payload: Buffer.alloc(30 * KiB) })
    assert.equal(missing.statusCode, 404)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/hold', payload: 'x' })).statusCode, 200)
    const tooBig = await post(Buffer.alloc(65 * KiB))
    assert.equal(tooBig.status, 503)
    // a client that announces a body and goes away
    await new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/function/hold', agent: false, headers: { 'content-length': 50 * KiB } })
      req.on('error', () => resolve())
      req.write(Buffer.alloc(KiB))
      setTimeout(() => {
        req.destroy()
        resolve()
      }, 200)
    })
    await waitUntil('every byte given back', () => k.inflight.bytes === 0)
  })
})
