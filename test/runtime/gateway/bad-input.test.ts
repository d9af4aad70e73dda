import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { wasiCommand, wat } from '../../helpers/wat.js'

describe('bad input gets a clear 4xx with a code, and the gateway stays up', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling({ maxUploadBytes: 64 * 1024 })
  })
  after(() => k.cleanup())

  const upload = (payload: Buffer | string, contentType = 'application/wasm') =>
    k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { ...k.auth, 'content-type': contentType }, payload })
  const expectError = async (res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, code: string) => {
    assert.equal(res.statusCode, status, JSON.stringify(res.json()))
    assert.equal(res.headers['x-kindling-error'], code)
    const body = res.json() as { code: string; message: string }
    assert.equal(body.code, code)
    assert.ok(body.message.length > 10)
    assert.equal((await k.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  }

  it('refuses uploads that are not wasm, truncated, forbidden, too large or mistyped', async () => {
    await expectError(await upload('hello, not a module'), 400, 'KINDLING_ERR_NOT_WASM')
    const cat = fs.readFileSync(exampleModule('cat'))
    await expectError(await upload(cat.subarray(0, cat.length / 2)), 400, 'KINDLING_ERR_WASM_INVALID')
    const sock = await wat(`(module (import "env" "socket_open" (func (param i32) (result i32))) (memory (export "memory") 1) (func (export "_start")))`)
    const res = await upload(Buffer.from(sock))
    await expectError(res, 400, 'KINDLING_ERR_FORBIDDEN_IMPORT')
    assert.match((res.json() as { message: string }).message, /env\.socket_open/)
    const reactor = await wat(`(module (memory (export "memory") 1) (func (export "_initialize")))`)
    await expectError(await upload(Buffer.from(reactor)), 400, 'KINDLING_ERR_UNSUPPORTED_FORMAT')
    const nothing = await wat(`(module (func (export "main")))`)
    const none = await upload(Buffer.from(nothing))
    await expectError(none, 400, 'KINDLING_ERR_UNSUPPORTED_FORMAT')
    assert.match((none.json() as { message: string }).message, /WASI preview1 commands.*AssemblyScript/)
    await expectError(await upload(Buffer.alloc(100 * 1024, 1)), 413, 'KINDLING_ERR_PAYLOAD_TOO_LARGE')
    const mistyped = await upload(cat, 'text/plain')
    await expectError(mistyped, 415, 'KINDLING_ERR_UNSUPPORTED_MEDIA_TYPE')
    assert.match((mistyped.json() as { message: string }).message, /"text\/plain"/)
    await expectError(await upload(Buffer.alloc(0)), 400, 'KINDLING_ERR_NOT_WASM')
  })

  it('refuses malformed deployments', async () => {
    const image = await k.upload(exampleModule('cat'))
    const deploy = (payload: string | object, ct = 'application/json') => k.app.inject({ method: 'POST', url: '/system/functions', headers: { ...k.auth, 'content-type': ct }, payload: payload as string })
    await expectError(await deploy('{"service": "x", "image":'), 400, 'KINDLING_ERR_INVALID_JSON')
    await expectError(await deploy(''), 400, 'KINDLING_ERR_INVALID_JSON')
    await expectError(await deploy({ image }), 400, 'KINDLING_ERR_MISSING_FIELD')
    await expectError(await deploy({ service: 'x' }), 400, 'KINDLING_ERR_MISSING_FIELD')
    for (const service of ['../x', '', 'x'.repeat(64), 'a b', 'x/y']) {
      await expectError(await deploy({ service, image }), 400, service === '' ? 'KINDLING_ERR_MISSING_FIELD' : 'KINDLING_ERR_INVALID_NAME')
    }
    await expectError(await deploy({ service: 'x', image, labels: { 'com.kindling.isolation': 'hypervisor' } }), 400, 'KINDLING_ERR_UNKNOWN_TIER')
    await expectError(await deploy({ service: 'x', image: `wasm:sha256:${'0'.repeat(64)}` }), 400, 'KINDLING_ERR_ARTIFACT_NOT_FOUND')
    await expectError(await deploy({ service: 'x', image: 'wasm:whatever' }), 400, 'KINDLING_ERR_INVALID_IMAGE')
    await expectError(await deploy({ service: 'x', image, limits: { memory: '12 bananas' } }), 400, 'KINDLING_ERR_INVALID_LIMIT')
    await expectError(await deploy({ service: 'x', image, limits: { memory: '32Ki' } }), 400, 'KINDLING_ERR_INVALID_LIMIT')
    await expectError(await deploy({ service: 'x', image, secrets: ['missing'] }), 400, 'KINDLING_ERR_INVALID_FIELD')
    await expectError(await deploy({ service: 'x', image, labels: { 'com.kindling.state': 'reuse' } }), 400, 'KINDLING_ERR_INVALID_LABEL')
    await expectError(await deploy({ service: 'x', image: 'functions/alpine:latest', labels: { 'com.kindling.isolation': 'wasm' } }), 400, 'KINDLING_ERR_INVALID_IMAGE')
    // read as JSON whatever the Content-Type, as OpenFaaS does
    await expectError(await deploy('<xml/>', 'application/xml'), 400, 'KINDLING_ERR_INVALID_JSON')
    assert.deepEqual((await k.app.inject({ method: 'GET', url: '/system/functions', headers: k.auth })).json(), [], 'nothing half-deployed')
  })

  it('reads a deployment as JSON whatever its Content-Type says, as OpenFaaS does (curl -d sends form encoding)', async () => {
    const image = await k.upload(exampleModule('cat'))
    const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: { ...k.auth, 'content-type': 'application/x-www-form-urlencoded' }, payload: JSON.stringify({ service: 'formy', image }) })
    assert.equal(res.statusCode, 202, res.body)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/formy', payload: 'via curl -d' })).body, 'via curl -d')
  })

  it('answers unknown functions and routes with 404', async () => {
    await expectError(await k.app.inject({ method: 'POST', url: '/function/nobody' }), 404, 'KINDLING_ERR_FUNCTION_NOT_FOUND')
    await expectError(await k.app.inject({ method: 'POST', url: '/function/nobody.nowhere' }), 404, 'KINDLING_ERR_FUNCTION_NOT_FOUND')
    await expectError(await k.app.inject({ method: 'GET', url: '/system/function/nobody', headers: k.auth }), 404, 'KINDLING_ERR_FUNCTION_NOT_FOUND')
    await expectError(await k.app.inject({ method: 'GET', url: '/nope' }), 404, 'KINDLING_ERR_ROUTE_NOT_FOUND')
  })

  it('answers 500 with the trap message and with stderr on a non-zero exit, and keeps serving', async () => {
    await k.deploy('trapper', await wat(wasiCommand('(unreachable)')))
    const trap = await k.app.inject({ method: 'POST', url: '/function/trapper' })
    assert.equal(trap.statusCode, 500)
    assert.equal(trap.headers['x-kindling-error'], 'KINDLING_ERR_FUNCTION_TRAP')
    assert.match(trap.body, /unreachable/)
    await k.deploy('exiter', exampleModule('read-secret'))
    const exit = await k.app.inject({ method: 'POST', url: '/function/exiter' })
    assert.equal(exit.statusCode, 500)
    assert.equal(exit.headers['x-kindling-error'], 'KINDLING_ERR_FUNCTION_EXIT')
    assert.match(exit.body, /usage: \?<secret name>/)
    for (let i = 0; i < 3; i++) assert.equal((await k.app.inject({ method: 'POST', url: '/function/trapper' })).statusCode, 500)
    await k.deploy('fine', exampleModule('cat'))
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/fine', payload: 'ok' })).body, 'ok')
  })

  it('refuses a call body over the limit with 413', async () => {
    const small = await startKindling({ maxBodyBytes: 2048 })
    try {
      await small.deploy('cat', exampleModule('cat'))
      const r = await small.app.inject({ method: 'POST', url: '/function/cat', payload: Buffer.alloc(4096, 97), headers: { 'content-type': 'text/plain' } })
      assert.equal(r.statusCode, 413)
      assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_PAYLOAD_TOO_LARGE')
    } finally {
      await small.cleanup()
    }
  })
})
