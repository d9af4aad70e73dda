// Key-value state and variables through a real guest (functions/dist/kv-counter.wasm) on the wasm
// tier (app host process), the thread and process tiers and inline (gateway process): grants, limits with their
// codes, TTL, compare-and-swap, increment, two applications apart, variables resolution and denial.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'

describe('key-value state and variables in wasm functions', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling({ kvMaxKeyBytes: 16, kvMaxValueBytes: 64, kvMaxStoreBytes: 1024, variablesFromEnv: ['KV_TEST_ALLOWED'], variablesEnv: { KV_TEST_ALLOWED: 'from-gateway-env' } })
    const r = await k.app.inject({ method: 'POST', url: '/system/secrets', headers: k.auth, payload: { name: 'token', value: 's3cret-token' } })
    assert.equal(r.statusCode, 201, r.body)
    const kv = { 'com.kindling.kv': 'counter, scratch' }
    await k.deploy('kvc', exampleModule('kv-counter'), { labels: { 'com.kindling.app': 'shop' }, annotations: kv })
    await k.deploy('kvc-inline', exampleModule('kv-counter'), { labels: { 'com.kindling.app': 'shop', 'com.kindling.isolation': 'inline' }, annotations: kv })
    await k.deploy('kvc-thread', exampleModule('kv-counter'), { labels: { 'com.kindling.app': 'shop', 'com.kindling.isolation': 'thread' }, annotations: kv })
    await k.deploy('kvc-process', exampleModule('kv-counter'), { labels: { 'com.kindling.app': 'shop', 'com.kindling.isolation': 'process' }, annotations: kv })
    await k.deploy('kvc-other-app', exampleModule('kv-counter'), { labels: { 'com.kindling.app': 'blog' }, annotations: kv })
    await k.deploy('kvc-none', exampleModule('kv-counter'), { labels: { 'com.kindling.app': 'shop' } })
    await k.deploy('vars', exampleModule('kv-counter'), {
      envVars: { greeting: 'hello' },
      secrets: ['token'],
      annotations: { 'com.kindling.variables': 'greeting,token,KV_TEST_ALLOWED,PATH,unset' },
    })
  })
  after(() => k.cleanup())
  const call = async (fn: string, body: string) => {
    const r = await k.app.inject({ method: 'POST', url: `/function/${fn}`, payload: body })
    assert.equal(r.statusCode, 200, r.body)
    return r.body
  }

  it('counts across calls, sandboxes and tiers sharing the application store', async () => {
    assert.equal(await call('kvc', ''), '1\n')
    assert.equal(await call('kvc', ''), '2\n')
    assert.equal(await call('kvc-inline', ''), '3\n', 'the gateway process opens the same store file')
    assert.equal(await call('kvc-thread', ''), '4\n')
    assert.equal(await call('kvc-process', ''), '5\n')
    assert.equal(await call('kvc', 'incr counter count 10'), '15\n')
    assert.equal(await call('kvc', 'get counter count'), '15\n')
    assert.equal(await call('kvc', 'set counter word abc'), 'ok\n')
    assert.equal(await call('kvc', 'incr counter word'), 'error not a number (-7)\n')
  })

  it('loses no increment when processes write the same store at once', async () => {
    const fns = ['kvc', 'kvc-inline', 'kvc-thread', 'kvc-process']
    await Promise.all(Array.from({ length: 40 }, (_, i) => call(fns[i % fns.length]!, 'incr scratch hits 1')))
    assert.equal(await call('kvc', 'get scratch hits'), '40\n')
    assert.equal(await call('kvc', 'del scratch hits'), '1\n')
  })

  it('keeps two applications\' stores of the same name apart', async () => {
    assert.equal(await call('kvc-other-app', ''), '1\n')
    assert.equal(await call('kvc-other-app', 'get counter word'), 'error KINDLING_ERR_KV_NOT_FOUND (-2)\n')
  })

  it('denies stores not granted, and every store without the annotation', async () => {
    assert.equal(await call('kvc', 'get sessions k'), 'error KINDLING_ERR_KV_NOT_GRANTED (-1)\n')
    assert.equal(await call('kvc-none', ''), 'error KINDLING_ERR_KV_NOT_GRANTED (-1)\n')
    const bad = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: 'bad', image: await k.upload(exampleModule('kv-counter')), annotations: { 'com.kindling.kv': '../etc' } } })
    assert.equal(bad.statusCode, 400)
    assert.match(bad.body, /KINDLING_ERR_INVALID_LABEL/)
  })

  it('refuses a key, a value and a store past their limits, each with its code', async () => {
    assert.equal(await call('kvc', `set scratch ${'k'.repeat(17)} v`), 'error KINDLING_ERR_KV_KEY_TOO_LARGE (-4)\n')
    assert.equal(await call('kvc', `set scratch k ${'v'.repeat(65)}`), 'error KINDLING_ERR_KV_VALUE_TOO_LARGE (-5)\n')
    let last = ''
    for (let i = 0; i < 30 && !last.startsWith('error'); i++) last = await call('kvc', `set scratch k${i} ${'v'.repeat(60)}`)
    assert.equal(last, 'error KINDLING_ERR_KV_STORE_FULL (-6)\n')
    for (let i = 0; i < 30; i++) await call('kvc', `del scratch k${i}`)
  })

  it('expires a key after its TTL', async () => {
    assert.equal(await call('kvc', 'set scratch t v 1'), 'ok\n')
    const until = Date.now() + 5
    while (Date.now() <= until) await new Promise((r) => setTimeout(r, 2))
    assert.equal(await call('kvc', 'get scratch t'), 'error KINDLING_ERR_KV_NOT_FOUND (-2)\n')
  })

  it('compare-and-swap: a conflict is refused', async () => {
    assert.equal(await call('kvc', 'cas scratch lock - a'), '1\n')
    assert.equal(await call('kvc-inline', 'cas scratch lock - b'), '0\n')
    assert.equal(await call('kvc', 'cas scratch lock b c'), '0\n')
    assert.equal(await call('kvc-thread', 'cas scratch lock a c'), '1\n')
    assert.equal(await call('kvc', 'get scratch lock'), 'c\n')
  })

  it('lists keys by prefix, across pages', async () => {
    for (let i = 0; i < 3; i++) await call('kvc', `set scratch user:${i} x`)
    assert.equal(await call('kvc', 'list scratch user:'), 'user:0\nuser:1\nuser:2\n')
    assert.equal(await call('kvc', 'del scratch user:1'), '1\n')
    assert.equal(await call('kvc', 'del scratch user:1'), '0\n')
    assert.equal(await call('kvc', 'list scratch user:'), 'user:0\nuser:2\n')
  })

  it('resolves variables from envVars, secrets and the allowed gateway environment, and denies the rest', async () => {
    assert.equal(await call('vars', 'var greeting'), 'hello\n')
    assert.equal(await call('vars', 'var token'), 's3cret-token\n')
    assert.equal(await call('vars', 'var KV_TEST_ALLOWED'), 'from-gateway-env\n')
    // granted by the function, but not allowed from the environment by the operator: no value
    assert.equal(await call('vars', 'var PATH'), 'error KINDLING_ERR_KV_NOT_FOUND (-2)\n')
    assert.equal(await call('vars', 'var unset'), 'error KINDLING_ERR_KV_NOT_FOUND (-2)\n')
    assert.equal(await call('vars', 'var HOME'), 'error KINDLING_ERR_VARIABLE_NOT_GRANTED (-1)\n')
    assert.equal(await call('kvc', 'var greeting'), 'error KINDLING_ERR_VARIABLE_NOT_GRANTED (-1)\n')
  })
})
