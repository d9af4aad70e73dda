// Outbound HTTP of wasm modules (issue 13 item 1): the fetch-url example (C, kindling.http_request)
// against a real server on loopback, granted or not by com.kindling.outbound patterns.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { parseOutbound } from '../../../isolation/wasm/host/outbound-grants.js'
import { startTargetServer, type TargetServer } from '../../helpers/target-server.js'
import { request, wasmFunction } from './runner-helpers.js'

let target: TargetServer
before(async () => {
  target = await startTargetServer()
})
after(async () => {
  await target.stop()
})

function fetchUrl(grants: string | undefined, url: string, opts: { maxResponseBytes?: number; deadlineMs?: number } = {}) {
  const fn = wasmFunction('fetch-url', grants === undefined ? {} : { outbound: { patterns: parseOutbound(grants), maxResponseBytes: opts.maxResponseBytes ?? 1 << 20 } })
  const res = fn.createSandbox().run(request(url, { deadline: Date.now() + (opts.deadlineMs ?? 5000) }))
  return { status: res.status, body: res.body.toString(), errorCode: res.errorCode }
}

test('a granted URL is fetched; the same URL without a grant is refused with the code', () => {
  const ok = fetchUrl(target.origin, `${target.origin}/hello`)
  assert.deepEqual([ok.status, ok.body], [200, 'hello from target'])
  const none = fetchUrl(undefined, `${target.origin}/hello`)
  assert.equal(none.status, 403)
  assert.match(none.body, /^KINDLING_ERR_OUTBOUND_DENIED: /)
})

test('a host, scheme or port not on the list is refused with KINDLING_ERR_OUTBOUND_DENIED', () => {
  for (const url of ['http://example.com/', `https://127.0.0.1:${target.port}/hello`, `http://127.0.0.1:${target.port + 1}/hello`]) {
    const r = fetchUrl(target.origin, url)
    assert.equal(r.status, 403, url)
    assert.match(r.body, /^KINDLING_ERR_OUTBOUND_DENIED: .*not granted by com\.kindling\.outbound/, url)
  }
})

test('redirects are followed inside the list only', () => {
  const inside = fetchUrl(target.origin, `${target.origin}/redirect?to=/hello`)
  assert.deepEqual([inside.status, inside.body], [200, 'hello from target'])
  const out = fetchUrl(target.origin, `${target.origin}/redirect?to=${encodeURIComponent(`http://localhost:${target.port}/hello`)}`)
  assert.equal(out.status, 403)
  assert.match(out.body, /KINDLING_ERR_OUTBOUND_DENIED: a redirect to http:\/\/localhost:\d+ is not granted/)
})

test('a name that resolves to loopback is refused unless a pattern names it literally', () => {
  // a wildcard grants the name, but not the loopback address it resolves to (DNS rebinding gains nothing)
  const wild = fetchUrl(`http://*:${target.port}`, `http://localhost:${target.port}/hello`)
  assert.equal(wild.status, 403)
  assert.match(wild.body, /KINDLING_ERR_OUTBOUND_DENIED: .*is not a public address \(loopback\)/)
  const wildIp = fetchUrl(`http://*:${target.port}`, `${target.origin}/hello`)
  assert.equal(wildIp.status, 403)
  const literal = fetchUrl(`http://localhost:${target.port}`, `http://localhost:${target.port}/hello`)
  assert.deepEqual([literal.status, literal.body], [200, 'hello from target'])
})

test('a response above the cap fails with KINDLING_ERR_OUTBOUND_TOO_LARGE; one at the cap is read whole', () => {
  const big = fetchUrl(target.origin, `${target.origin}/big?n=5000`, { maxResponseBytes: 4096 })
  assert.equal(big.status, 502)
  assert.match(big.body, /^KINDLING_ERR_OUTBOUND_TOO_LARGE: /)
  const fits = fetchUrl(target.origin, `${target.origin}/big?n=4096`, { maxResponseBytes: 4096 })
  assert.deepEqual([fits.status, fits.body.length], [200, 4096])
})

test('a request that outlives the call ends the call with KINDLING_ERR_TIMEOUT', () => {
  const slow = fetchUrl(target.origin, `${target.origin}/slow`, { deadlineMs: 300 })
  assert.equal(slow.errorCode, 'KINDLING_ERR_TIMEOUT')
  // the sandbox's thread is usable again right after
  assert.equal(fetchUrl(target.origin, `${target.origin}/hello`).status, 200)
})

test('a cancel raised while the call waits on its request ends the call', () => {
  const flag = new Int32Array(new SharedArrayBuffer(4))
  // another thread raises the flag, as the thread tier does when the client hangs up
  const raiser = new Worker('const { workerData } = require("node:worker_threads"); setTimeout(() => Atomics.store(workerData, 0, 1), 200)', { eval: true, workerData: flag })
  const fn = wasmFunction('fetch-url', { outbound: { patterns: parseOutbound(target.origin), maxResponseBytes: 1 << 20 } })
  const res = fn.createSandbox(flag).run(request(`${target.origin}/slow`, { deadline: Date.now() + 20_000 }))
  void raiser.terminate()
  assert.equal(res.errorCode, 'KINDLING_ERR_CALL_CANCELLED')
})

test('a request body above KINDLING_OUTBOUND_MAX_REQUEST_BYTES is refused with -7 and the code before it goes out', async () => {
  const { outboundImports } = await import('../../../isolation/wasm/host/outbound.js')
  const { outboundFetch, OUTBOUND_ERROR } = await import('../../../isolation/wasm/host/outbound-fetch.js')
  const memory = new WebAssembly.Memory({ initial: 2 })
  const bytes = new Uint8Array(memory.buffer)
  const put = (at: number, s: string): [number, number] => (bytes.set(Buffer.from(s), at), [at, Buffer.byteLength(s)])
  const [mPtr, mLen] = put(0, 'POST')
  const [uPtr, uLen] = put(16, `${target.origin}/hello`)
  const plan = { patterns: parseOutbound(target.origin), maxResponseBytes: 1 << 20, maxRequestBytes: 4096 }
  const { imports } = outboundImports(plan, { memory: () => memory, deadline: () => Date.now() + 5000, check: () => {} })
  const ask = (bodyLen: number): [number, string] => {
    const status = imports['http_request']!(mPtr, mLen, uPtr, uLen, 0, 0, 1024, bodyLen, 512)
    const len = new DataView(memory.buffer).getUint32(512, true)
    imports['http_response_read']!(70_000, 0, len)
    return [status, Buffer.from(memory.buffer, 70_000, len).toString()]
  }
  const [over, message] = ask(4097)
  assert.equal(over, OUTBOUND_ERROR.REQUEST_TOO_LARGE)
  assert.match(message, /^KINDLING_ERR_OUTBOUND_REQUEST_TOO_LARGE: the request body \(4097 bytes\) is larger than KINDLING_OUTBOUND_MAX_REQUEST_BYTES \(4096 bytes\)/)
  assert.deepEqual(ask(4096), [200, 'hello from target'])
  // the helper thread (and so components' wasi:http, which sends its body there) checks it as well
  const r = await outboundFetch({ method: 'POST', url: `${target.origin}/hello`, headers: [], body: new Uint8Array(4097) }, { ...plan, deadline: Date.now() + 5000 })
  assert.deepEqual(r.ok ? r.status : r.error, 'REQUEST_TOO_LARGE')
})
