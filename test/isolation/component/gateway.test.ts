// wasi:http components end to end through the gateway: upload (checked with jco in a helper
// process), deploy (transpiled into the data dir's cache), invoke on the tiers that run components.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startKindling, type TestKindling } from '../../helpers/kindling.js'
import { componentFromWat, countingHandler, EXAMPLE_COMPONENT, growingHandler, loopingHandler, notHttpComponent } from './helpers.js'

const TIERS = ['wasm', 'inline'] as const
const tierLabel = (tier: string) => ({ 'com.kindling.isolation': tier })

describe('wasi:http components through the gateway', () => {
  let k: TestKindling
  let image: string
  before(async () => {
    k = await startKindling()
    image = await k.upload(EXAMPLE_COMPONENT)
    for (const tier of TIERS) {
      const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: `echo-${tier}`, image, labels: tierLabel(tier) } })
      assert.equal(res.statusCode, 202, res.body)
    }
  })
  after(() => k.cleanup())

  it('stores an uploaded component with format component', async () => {
    const list = (await k.app.inject({ method: 'GET', url: '/system/artifacts', headers: k.auth })).json() as { image: string; format: string }[]
    assert.equal(list.find((a) => a.image === image)?.format, 'component')
  })

  it('transpiles a component once per data dir, whatever the tier', () => {
    const cache = path.join(k.config.dataDirAbs, 'cache', 'component')
    const done = fs.readdirSync(cache).filter((d) => fs.existsSync(path.join(cache, d, 'manifest.json')))
    assert.equal(done.length, 1)
    assert.ok(fs.readdirSync(path.join(cache, done[0]!)).some((f) => f.endsWith('.mjs')))
  })

  for (const tier of TIERS) {
    it(`maps method, path, query, headers and body both ways on the ${tier} tier`, async () => {
      const r = await k.app.inject({
        method: 'PUT',
        url: `/function/echo-${tier}/some/path?q=1&r=two`,
        headers: { 'content-type': 'application/json', 'x-echo-trace': 'abc-123' },
        payload: '{"hello":"component"}',
      })
      assert.equal(r.statusCode, 200, r.body)
      assert.equal(r.body, '{"hello":"component"}')
      assert.equal(r.headers['content-type'], 'application/json')
      assert.equal(r.headers['x-method'], 'PUT')
      assert.equal(r.headers['x-path'], '/some/path?q=1&r=two')
      assert.equal(r.headers['x-echo-trace'], 'abc-123')
      assert.ok(Number(r.headers['x-header-count']) >= 3)
    })

    it(`sets the status a component chooses and streams large binary bodies on the ${tier} tier`, async () => {
      const teapot = await k.app.inject({ method: 'GET', url: `/function/echo-${tier}/status/418` })
      assert.equal(teapot.statusCode, 418)
      assert.equal(teapot.body, 'hello from a wasi:http component: GET /status/418\n')
      assert.equal(teapot.headers['content-type'], 'text/plain; charset=utf-8')
      // larger than one 64 KiB read and many 4 KiB writes
      const body = randomBytes(300_000)
      const big = await k.app.inject({ method: 'POST', url: `/function/echo-${tier}`, headers: { 'content-type': 'application/octet-stream' }, payload: body })
      assert.equal(big.statusCode, 200)
      assert.ok(big.rawPayload.equals(body), 'the body comes back byte for byte')
    })
  }

  it('mounts the deployment\'s secrets read-only for components (wasi:filesystem), and an update reaches new calls', async () => {
    const secret = (method: 'POST' | 'PUT', value: string) =>
      k.app.inject({ method, url: '/system/secrets', headers: k.auth, payload: { name: 'component-token', value } })
    assert.equal((await secret('POST', 's3cr3t-for-components')).statusCode, 201)
    for (const tier of TIERS) {
      const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: `secretive-${tier}`, image, labels: tierLabel(tier), secrets: ['component-token'] } })
      assert.equal(res.statusCode, 202, res.body)
      const got = await k.app.inject({ method: 'GET', url: `/function/secretive-${tier}/secret/component-token` })
      assert.equal(got.statusCode, 200, got.body)
      assert.equal(got.body, 's3cr3t-for-components')
      const missing = await k.app.inject({ method: 'GET', url: `/function/secretive-${tier}/secret/other` })
      assert.equal(missing.statusCode, 404)
      assert.equal(missing.body, 'no secret other\n')
      const unmounted = await k.app.inject({ method: 'GET', url: `/function/echo-${tier}/secret/component-token` })
      assert.equal(unmounted.statusCode, 404, 'a deployment that does not name the secret does not see it')
    }
    assert.equal((await secret('PUT', 'rotated')).statusCode, 202)
    for (const tier of TIERS) assert.equal((await k.app.inject({ method: 'GET', url: `/function/secretive-${tier}/secret/component-token` })).body, 'rotated')
  })

  it('lists wasi:http components only on the tiers that run them, and refuses the others at deploy', async () => {
    for (const tier of k.tiers.values()) {
      const runs = tier.capabilities.artifactKinds.includes('wasm-component')
      assert.equal(runs, (TIERS as readonly string[]).includes(tier.name), tier.name)
      if (runs || tier.name === 'container') continue
      const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: `echo-on-${tier.name}`, image, labels: tierLabel(tier.name) } })
      assert.equal(res.statusCode, 400, `${tier.name}: ${res.body}`)
      assert.match(res.body, new RegExp(`tier ${tier.name} runs .*is a WebAssembly component`))
    }
  })

  it('refuses a broken component and a component that is not an HTTP handler at upload', async () => {
    const bytes = fs.readFileSync(EXAMPLE_COMPONENT)
    const broken = await k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { ...k.auth, 'content-type': 'application/wasm' }, payload: bytes.subarray(0, bytes.length - 100) })
    assert.equal(broken.statusCode, 400)
    assert.equal(broken.json().code, 'KINDLING_ERR_WASM_INVALID')
    assert.match(broken.json().message, /the component does not decode/)

    const other = await k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { ...k.auth, 'content-type': 'application/wasm' }, payload: Buffer.from(await notHttpComponent()) })
    assert.equal(other.statusCode, 400)
    assert.equal(other.json().code, 'KINDLING_ERR_UNSUPPORTED_FORMAT')
    assert.match(other.json().message, /exports run, not wasi:http\/incoming-handler@0\.2\.x/)
    assert.equal((await k.app.inject({ method: 'GET', url: '/system/artifacts', headers: k.auth })).json().length, 1, 'nothing refused was stored')
  })

  it('gives every call a fresh instance, unless com.kindling.state=reuse', async () => {
    const counting = await componentFromWat(countingHandler)
    await k.deploy('fresh', counting)
    await k.deploy('warm', counting, { labels: { 'com.kindling.state': 'reuse', 'com.openfaas.scale.max': '1' } })
    const statuses = async (name: string) => {
      const out: number[] = []
      for (let i = 0; i < 3; i++) out.push((await k.app.inject({ method: 'GET', url: `/function/${name}` })).statusCode)
      return out
    }
    assert.deepEqual(await statuses('fresh'), [201, 201, 201])
    assert.deepEqual(await statuses('warm'), [201, 202, 203])
  })

  it('a client that hangs up cancels a runaway component on the wasm tier, long before its timeout', async () => {
    const looping = await componentFromWat(loopingHandler)
    await k.deploy('loop-cancel', looping, { labels: { ...tierLabel('wasm'), 'com.kindling.timeout': '20s', 'com.openfaas.scale.max': '1' } })
    const pool = k.dispatcher.get('loop-cancel', 'openfaas-fn')!.pool!
    const base = new URL(await k.listen())
    const t0 = Date.now()
    const req = http.request({ host: base.hostname, port: base.port, method: 'POST', path: '/function/loop-cancel', agent: false }, (res) => res.resume())
    req.on('error', () => {}) // the hang-up itself
    req.end()
    const until = async (ok: () => boolean, what: string) => {
      for (const end = Date.now() + 10_000; !ok(); await new Promise((r) => setTimeout(r, 20))) if (Date.now() > end) assert.fail(`waited 10 s for ${what}`)
    }
    await until(() => pool.stats.busy === 1, 'the call to run')
    await new Promise((r) => setTimeout(r, 300))
    req.destroy()
    // the sandbox is free again long before the 20 s timeout could have ended the call
    await until(() => pool.stats.busy === 0, 'the cancelled call to end')
    assert.ok(Date.now() - t0 < 10_000)
  })

  it('stops a runaway component at its timeout with 504 on both tiers, and keeps serving', async () => {
    const looping = await componentFromWat(loopingHandler)
    for (const tier of TIERS) {
      await k.deploy(`loop-${tier}`, looping, { labels: { ...tierLabel(tier), 'com.kindling.timeout': '300ms' } })
      const t0 = Date.now()
      const r = await k.app.inject({ method: 'POST', url: `/function/loop-${tier}` })
      const took = Date.now() - t0
      assert.equal(r.statusCode, 504, r.body)
      assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_TIMEOUT')
      assert.ok(took >= 290 && took < 2000, `${tier}: answered after ${took} ms`)
      assert.equal((await k.app.inject({ method: 'GET', url: `/function/echo-${tier}` })).statusCode, 200)
      assert.equal((await k.app.inject({ method: 'POST', url: `/function/loop-${tier}` })).statusCode, 504, 'and it keeps timing out')
    }
  })

  it('holds a component to limits.memory', async () => {
    await k.deploy('grow', await componentFromWat(growingHandler), { limits: { memory: '4Mi' } })
    const r = await k.app.inject({ method: 'POST', url: '/function/grow' })
    assert.equal(r.statusCode, 500)
    assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_MEMORY_LIMIT', r.body)
    assert.match(r.body, /memory limit of 4 MiB/)
  })
})
