import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'

describe('secrets: /system/secrets and /var/openfaas/secrets', () => {
  let k: TestKindling
  const VALUE = 's3cr3t-value-1f2e'
  const NEW_VALUE = 'rotated-value-9a8b'
  before(async () => {
    k = await startKindling()
  })
  after(() => k.cleanup())
  const sys = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => k.app.inject({ method, url, headers: k.auth, payload: payload as Record<string, unknown> })

  it('creates, lists, replaces and deletes with the OpenFaaS status codes', async () => {
    assert.equal((await sys('POST', '/system/secrets', { name: 'crud', value: 'v1' })).statusCode, 201)
    assert.equal((await sys('POST', '/system/secrets', { name: 'crud', value: 'v1' })).statusCode, 409)
    assert.equal((await sys('POST', '/system/secrets', { name: 'raw', rawValue: Buffer.from([0, 1, 2]).toString('base64') })).statusCode, 201)
    assert.deepEqual((await sys('GET', '/system/secrets')).json(), [{ name: 'crud', namespace: 'openfaas-fn' }, { name: 'raw', namespace: 'openfaas-fn' }])
    assert.equal((await sys('PUT', '/system/secrets', { name: 'crud', value: 'v2' })).statusCode, 202)
    assert.equal((await sys('PUT', '/system/secrets', { name: 'nothere', value: 'v2' })).statusCode, 404)
    assert.equal((await sys('DELETE', '/system/secrets', { name: 'crud' })).statusCode, 202)
    assert.equal((await sys('DELETE', '/system/secrets', { name: 'crud' })).statusCode, 404)
    assert.equal((await sys('DELETE', '/system/secrets', { name: 'raw' })).statusCode, 202)
    assert.equal((await sys('POST', '/system/secrets', { name: 'novalue' })).statusCode, 400)
    assert.equal((await sys('POST', '/system/secrets', { name: '../etc', value: 'x' })).statusCode, 400)
    assert.equal((await sys('GET', '/system/secrets?namespace=elsewhere')).statusCode, 400)
    assert.equal((await k.app.inject({ method: 'GET', url: '/system/secrets' })).statusCode, 401)
    assert.equal((await sys('POST', '/system/functions', { service: 'nosecret', image: await k.upload(exampleModule('read-secret')), secrets: ['missing'] })).statusCode, 400, 'a deployment naming a missing secret is refused')
  })

  it('lets functions read a secret as a read-only file on the wasm and inline tiers, and sees a replaced value', async () => {
    assert.equal((await sys('POST', '/system/secrets', { name: 'api-key', value: VALUE })).statusCode, 201)
    for (const tier of ['wasm', 'inline']) {
      await k.deploy(`rs-${tier}`, exampleModule('read-secret'), { secrets: ['api-key'], labels: { 'com.kindling.isolation': tier } })
      const r = await k.app.inject({ method: 'GET', url: `/function/rs-${tier}?api-key` })
      assert.equal(r.statusCode, 200, r.body)
      assert.equal(r.body, VALUE, tier)
      const other = await k.app.inject({ method: 'GET', url: `/function/rs-${tier}?other` })
      assert.equal(other.statusCode, 500, 'only mounted secrets are there')
    }
    assert.equal((await sys('PUT', '/system/secrets', { name: 'api-key', value: NEW_VALUE })).statusCode, 202)
    for (const tier of ['wasm', 'inline']) {
      assert.equal((await k.app.inject({ method: 'GET', url: `/function/rs-${tier}?api-key` })).body, NEW_VALUE, `${tier} reads the new value right after PUT`)
    }
    const logs = (await sys('GET', '/system/logs?name=rs-wasm')).body
    assert.match(logs, /secret api-key changed/)
  })

  it('mounts secrets read-only into containers, and new calls see a replaced value', async (t) => {
    const tier = k.tiers.get('container')
    const why = tier ? tier.unavailableReason() : 'the container tier is not registered'
    if (why !== null) return t.skip(`container tier: ${why}`)
    assert.equal((await sys('POST', '/system/secrets', { name: 'db-pass', value: VALUE })).statusCode, 201)
    const dep = await sys('POST', '/system/functions', { service: 'rs-container', image: 'functions/alpine:latest', envProcess: 'cat /var/openfaas/secrets/db-pass', secrets: ['db-pass'], labels: { 'com.kindling.isolation': 'container' } })
    assert.equal(dep.statusCode, 202, dep.body)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/rs-container' })).body, VALUE)
    assert.equal((await sys('PUT', '/system/secrets', { name: 'db-pass', value: NEW_VALUE })).statusCode, 202)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/rs-container' })).body, NEW_VALUE)
  })

  it('never shows a value in the list, the function status, the logs or the log files', async () => {
    const shown = [
      (await sys('GET', '/system/secrets')).body,
      (await sys('GET', '/system/function/rs-wasm')).body,
      (await sys('GET', '/system/functions')).body,
      (await sys('GET', '/system/logs?name=rs-wasm')).body,
      (await sys('GET', '/system/logs?name=rs-inline')).body,
      (await sys('GET', '/system/logs?name=rs-container')).statusCode === 200 ? (await sys('GET', '/system/logs?name=rs-container')).body : '',
      (await k.app.inject({ method: 'GET', url: '/metrics' })).body,
    ]
    await k.logs.close() // flushes the log files
    const logDir = path.join(k.config.dataDirAbs, 'logs')
    for (const f of fs.readdirSync(logDir)) shown.push(fs.readFileSync(path.join(logDir, f), 'utf8'))
    for (const text of shown) {
      assert.ok(!text.includes(VALUE) && !text.includes(NEW_VALUE), `a secret value leaked into: ${text.slice(0, 200)}`)
    }
    assert.ok(shown[1]!.includes('"secrets":["api-key"]'), 'the status names the secret')
  })
})
