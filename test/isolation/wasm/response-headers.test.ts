// Response headers of modules (kindling.response_header_set): the set-headers examples (C, a WASI
// command without a CGI block; AssemblyScript, a `handle`) set headers from their request body's
// "Name: value" lines and answer the code of each. A valid header arrives, a bad or reserved one is
// refused with its code, and nothing carries over to the next call, on every tier that runs modules.
import assert from 'node:assert/strict'
import { after, before, describe, it, test } from 'node:test'
import { RESPONSE_HEADER_ERROR } from '../../../isolation/wasm/host/response-headers.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { request, wasmFunction } from './runner-helpers.js'

const E = RESPONSE_HEADER_ERROR

for (const example of ['set-headers', 'set-headers-as']) {
  test(`${example}: a valid header arrives, bad ones are refused with a code, the next call starts clean`, () => {
    // the AssemblyScript one keeps its instance between calls (state mode reuse): the headers must not
    const sb = wasmFunction(example, example.endsWith('-as') ? { stateMode: 'reuse' } : {}).createSandbox()
    const lines = ['X-Greeting: hello', 'Cache-Control: max-age=60', 'Content-Type: application/json', 'bad name: x', 'X-Kindling-Error: forged', 'Content-Length: 1', 'Connection: close', 'X-Call-Id: mine', 'Set-Cookie: a=1', 'Set-Cookie: b=2', 'X-Greeting: again']
    const r = sb.run(request(lines.join('\n') + '\n'))
    assert.equal(r.status, 200, r.body.toString())
    const codes = Object.fromEntries(r.body.toString().trim().split('\n').map((l) => l.split(' -> ')).map(([k, v]) => [k, Number(v)]))
    assert.deepEqual(codes, {
      'X-Greeting': 0, 'Cache-Control': 0, 'Content-Type': 0, 'bad name': E.INVALID_NAME, 'X-Kindling-Error': E.RESERVED,
      'Content-Length': E.RESERVED, 'Connection': E.RESERVED, 'X-Call-Id': E.RESERVED, 'Set-Cookie': 0,
    })
    assert.equal(r.headers['x-greeting'], 'again')
    assert.equal(r.headers['cache-control'], 'max-age=60')
    assert.equal(r.headers['content-type'], 'application/json')
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2'])
    for (const k of ['x-kindling-error', 'connection', 'x-call-id']) assert.equal(r.headers[k], undefined, k)

    const next = sb.run(request(''))
    assert.equal(next.status, 200)
    assert.equal(next.headers['x-greeting'], undefined)
    assert.equal(next.headers['set-cookie'], undefined)
    assert.notEqual(next.headers['content-type'], 'application/json')
  })
}

test('a value with CR or LF is refused; at most 64 headers per call', () => {
  const sb = wasmFunction('set-headers-as').createSandbox()
  const r = sb.run(request('X-Split: a\rSet-Cookie: evil=1\n'))
  assert.match(r.body.toString(), new RegExp(`^X-Split -> ${E.INVALID_VALUE}\n`))
  assert.equal(r.headers['x-split'], undefined)
  const many = Array.from({ length: 65 }, (_, i) => `X-H${i}: ${i}`).join('\n')
  const lines = sb.run(request(many)).body.toString().trim().split('\n')
  assert.equal(lines[63], 'X-H63 -> 0')
  assert.equal(lines[64], `X-H64 -> ${E.TOO_MANY}`)
})

describe('response headers through the gateway', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling()
  })
  after(async () => {
    await k?.cleanup()
  })
  for (const tier of ['inline', 'wasm', 'thread', 'process']) {
    it(`${tier}: the header reaches the client; the next call does not carry it`, async () => {
      // an instance kept between calls (state mode reuse) must not keep the headers either
      await k.deploy(`hdr-${tier}`, exampleModule('set-headers-as'), { labels: { 'com.kindling.isolation': tier, 'com.kindling.state': 'reuse' } })
      const call = (payload: string) => k.app.inject({ method: 'POST', url: `/function/hdr-${tier}`, payload, headers: { 'content-type': 'text/plain' } })
      const r = await call('X-Greeting: hello\nX-Served-By: me\n')
      assert.equal(r.statusCode, 200, r.body)
      assert.equal(r.headers['x-greeting'], 'hello')
      assert.match(r.body, new RegExp(`X-Served-By -> ${E.RESERVED}`))
      assert.notEqual(r.headers['x-served-by'], 'me')
      const next = await call('')
      assert.equal(next.statusCode, 200)
      assert.equal(next.headers['x-greeting'], undefined)
    })
  }
})
