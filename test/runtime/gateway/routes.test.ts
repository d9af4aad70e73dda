import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'

describe('gateway routes (OpenFaaS API)', () => {
  let k: TestKindling
  let image: string
  before(async () => {
    k = await startKindling({ extraNamespaces: ['staging'] })
    image = await k.upload(exampleModule('env'))
  })
  after(() => k.cleanup())
  const sys = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => k.app.inject({ method, url, headers: k.auth, payload: payload as Record<string, unknown> })

  it('deploys, lists, gets, updates and removes a function with OpenFaaS status codes', async () => {
    const dep = await sys('POST', '/system/functions', { service: 'envf', image, envVars: { custom_env: 'v1' }, labels: { team: 'a' } })
    assert.equal(dep.statusCode, 202, dep.body)
    assert.equal((await sys('POST', '/system/functions', { service: 'envf', image })).statusCode, 409)

    const list = await sys('GET', '/system/functions')
    assert.equal(list.statusCode, 200)
    assert.deepEqual(list.json().map((f: { name: string }) => f.name), ['envf'])

    const got = (await sys('GET', '/system/function/envf')).json()
    assert.equal(got.image, image)
    assert.deepEqual(got.envVars, { custom_env: 'v1' })
    assert.equal(got.labels.faas_function, 'envf')
    assert.equal(got.labels.team, 'a')
    assert.equal(got.annotations['com.kindling.tier'], 'wasm')
    assert.equal(got.replicas, 1)

    const put = await sys('PUT', '/system/functions', { service: 'envf', image, envVars: { custom_env: 'v2' } })
    assert.equal(put.statusCode, 202)
    const out = await k.app.inject({ method: 'GET', url: '/function/envf' })
    assert.match(out.body, /custom_env=v2/)
    assert.equal((await sys('GET', '/system/function/envf')).json().createdAt, got.createdAt, 'an update keeps createdAt')

    assert.equal((await sys('PUT', '/system/functions', { service: 'nothere', image })).statusCode, 404, 'faas-cli falls back to POST on 404')
    assert.equal((await sys('DELETE', '/system/functions', { functionName: 'envf' })).statusCode, 202)
    assert.equal((await sys('DELETE', '/system/functions', { functionName: 'envf' })).statusCode, 404)
    assert.equal((await sys('GET', '/system/function/envf')).statusCode, 404)
  })

  it('serves namespaces from the body, the query and name.namespace addressing', async () => {
    assert.deepEqual((await sys('GET', '/system/namespaces')).json(), ['openfaas-fn', 'staging'])
    assert.equal((await sys('POST', '/system/functions', { service: 'nsf', image, namespace: 'staging' })).statusCode, 202)
    assert.deepEqual((await sys('GET', '/system/functions')).json(), [])
    assert.equal((await sys('GET', '/system/functions?namespace=staging')).json()[0].namespace, 'staging')
    assert.equal((await sys('GET', '/system/function/nsf?namespace=staging')).statusCode, 200)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/nsf.staging' })).statusCode, 200)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/nsf' })).statusCode, 404)
    assert.equal((await sys('GET', '/system/functions?namespace=prod')).statusCode, 400)
    assert.equal((await sys('DELETE', '/system/functions?namespace=staging', { functionName: 'nsf' })).statusCode, 202, 'namespace from the query (older faas-cli)')
  })

  it('invokes with every method, passing path, query, headers and body, and sets call headers', async () => {
    await sys('POST', '/system/functions', { service: 'inv', image })
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
      const r = await k.app.inject({ method, url: '/function/inv/some/path?x=1&y=2', headers: { 'x-custom': 'yes', 'content-type': 'application/json' }, payload: method === 'GET' ? undefined : '{"a":1}' })
      assert.equal(r.statusCode, 200, method)
      assert.match(r.body, new RegExp(`Http_Method=${method}`))
      assert.match(r.body, /Http_Path=\/some\/path/)
      assert.match(r.body, /Http_Query=x=1&y=2/)
      assert.match(r.body, /Http_X_Custom=yes/)
      assert.ok(r.headers['x-call-id'])
      assert.match(String(r.headers['x-start-time']), /^\d{19}$/)
      assert.ok(Number(r.headers['x-duration-seconds']) > 0)
    }
    const head = await k.app.inject({ method: 'HEAD', url: '/function/inv' })
    assert.equal(head.statusCode, 200)
    assert.equal(head.body, '')
    const mine = await k.app.inject({ method: 'POST', url: '/function/inv', headers: { 'x-call-id': 'my-call' } })
    assert.equal(mine.headers['x-call-id'], 'my-call')
    assert.match(mine.body, /Http_X_Call_Id=my-call/)
    const weird = await k.app.inject({ method: 'PROPFIND' as 'GET', url: '/function/inv' })
    assert.ok([404, 405].includes(weird.statusCode), `PROPFIND answered ${weird.statusCode}`)
  })

  it('accepts any body content type on calls, bytes unchanged', async () => {
    const catImage = await k.upload(exampleModule('cat'))
    await sys('POST', '/system/functions', { service: 'catf', image: catImage })
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13])
    for (const ct of ['application/octet-stream', 'application/json', 'text/plain', 'image/png']) {
      const r = await k.app.inject({ method: 'POST', url: '/function/catf', headers: { 'content-type': ct }, payload: bytes })
      assert.equal(r.statusCode, 200)
      assert.deepEqual(r.rawPayload, bytes, ct)
    }
    const none = await k.app.inject({ method: 'POST', url: '/function/catf', payload: 'no type' })
    assert.equal(none.body, 'no type')
  })

  it('sends every value of a header a function set more than once (set-cookie), across the app host', async () => {
    const catImage = await k.upload(exampleModule('cat'))
    await sys('POST', '/system/functions', { service: 'cookies', image: catImage })
    // cat writes its stdin back, so this body becomes the function's CGI header block
    const r = await k.app.inject({ method: 'POST', url: '/function/cookies', payload: 'Content-Type: text/plain\nSet-Cookie: a=1; Path=/\nSet-Cookie: b=2\n\nbody' })
    assert.equal(r.statusCode, 200)
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2'])
    assert.equal(r.body, 'body')
  })

  it('scales with serviceName in the body and the namespace in the query or body, 0 included', async () => {
    await sys('POST', '/system/functions', { service: 'sc', image, labels: { 'com.openfaas.scale.min': '2' } })
    assert.equal((await sys('GET', '/system/function/sc')).json().replicas, 2, 'min is the initial replica count')
    assert.equal((await sys('POST', '/system/scale-function/sc', { serviceName: 'sc', replicas: 3 })).statusCode, 202)
    assert.equal((await sys('GET', '/system/function/sc')).json().replicas, 3)
    assert.equal((await sys('POST', '/system/scale-function/sc?namespace=openfaas-fn', { serviceName: 'sc', replicas: 0 })).statusCode, 202)
    assert.equal((await sys('GET', '/system/function/sc')).json().replicas, 0)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/sc' })).statusCode, 200, 'a call to a function at zero is served')
    assert.ok((await sys('GET', '/system/function/sc')).json().replicas >= 1, 'and scales it up')
    assert.equal((await sys('POST', '/system/scale-function/sc', { serviceName: 'sc', replicas: -1 })).statusCode, 400)
    assert.equal((await sys('POST', '/system/scale-function/sc', { serviceName: 'sc', replicas: 'two' })).statusCode, 400)
    assert.equal((await sys('POST', '/system/scale-function/nothere', { serviceName: 'nothere', replicas: 1 })).statusCode, 404)
  })

  it('protects /system/* with basic auth and leaves calls, health and metrics open', async () => {
    const r = await k.app.inject({ method: 'GET', url: '/system/functions' })
    assert.equal(r.statusCode, 401)
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Restricted"')
    const wrong = await k.app.inject({ method: 'GET', url: '/system/info', headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` } })
    assert.equal(wrong.statusCode, 401)
    assert.equal((await k.app.inject({ method: 'POST', url: '/system/artifacts', payload: 'x' })).statusCode, 401)
    assert.equal((await k.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    assert.equal((await k.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200)
  })

  it('reports OpenFaaS metrics with function_name=name.namespace and the status code', async () => {
    await sys('POST', '/system/functions', { service: 'm1', image })
    await k.app.inject({ method: 'POST', url: '/function/m1' })
    await k.app.inject({ method: 'POST', url: '/function/m1' })
    const text = (await k.app.inject({ method: 'GET', url: '/metrics' })).body
    assert.match(text, /gateway_function_invocation_total\{function_name="m1\.openfaas-fn",code="200"\} 2/)
    assert.match(text, /gateway_functions_seconds_count\{function_name="m1\.openfaas-fn",code="200"\} 2/)
    assert.match(text, /gateway_function_invocation_started\{function_name="m1\.openfaas-fn"\} 2/)
    assert.match(text, /gateway_service_count\{function_name="m1\.openfaas-fn"\} 1/)
    assert.match(text, /kindling_cold_starts_total\{function_name="m1\.openfaas-fn",tier="wasm"/)
    assert.equal((await sys('GET', '/system/functions')).json().find((f: { name: string }) => f.name === 'm1').invocationCount, 2)
  })

  it('answers /system/info with provider, version, arch and the tiers', async () => {
    const info = (await sys('GET', '/system/info')).json()
    assert.equal(info.provider.provider, 'kindling')
    assert.ok(info.version.release)
    assert.ok(info.arch)
    assert.ok(info.tiers.some((t: { name: string; available: boolean }) => t.name === 'wasm' && t.available))
    assert.equal((await sys('GET', '/system/namespace/x')).statusCode, 501)
  })
})
