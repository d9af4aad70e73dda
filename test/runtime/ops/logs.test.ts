import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import type { WasmTier } from '../../../isolation/apphost/wasm-tier.js'
import { startKindling, tempDataDir, type TestKindling } from '../../helpers/kindling.js'
import { sleep, stderrModule, waitUntil } from './helpers.js'

interface Line {
  name: string
  namespace: string
  instance: string
  timestamp: string
  text: string
}

const parse = (body: string): Line[] => body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line)

describe('logs: GET /system/logs', () => {
  const dataDir = tempDataDir()
  let k: TestKindling
  before(async () => {
    k = await startKindling({}, { dataDir, keepDataDir: true })
    await k.deploy('talker', await stderrModule('hello from stderr'))
  })
  after(async () => {
    await k.cleanup()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
  const logs = (query: string) => k.app.inject({ method: 'GET', url: `/system/logs?${query}`, headers: k.auth })

  it('streams NDJSON {name, namespace, instance, timestamp, text} of stderr and kindling\'s own messages', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await k.app.inject({ method: 'POST', url: '/function/talker' })).body, 'ok')
    await k.app.inject({ method: 'POST', url: '/system/scale-function/talker', headers: k.auth, payload: { serviceName: 'talker', replicas: 2 } })
    const r = await logs('name=talker')
    assert.equal(r.statusCode, 200)
    assert.equal(r.headers['content-type'], 'application/x-ndjson')
    const lines = parse(r.body)
    for (const l of lines) {
      assert.deepEqual(Object.keys(l), ['name', 'namespace', 'instance', 'timestamp', 'text'])
      assert.equal(l.name, 'talker')
      assert.equal(l.namespace, 'openfaas-fn')
      assert.ok(!Number.isNaN(Date.parse(l.timestamp)))
    }
    const stderr = lines.filter((l) => l.text === 'hello from stderr')
    assert.equal(stderr.length, 3)
    assert.ok(stderr.every((l) => l.instance.length > 0), 'the instance is the call id')
    assert.ok(lines.some((l) => l.instance === 'gateway' && /scaled to 2 through the API/.test(l.text)))
    assert.equal(parse((await logs('name=talker.openfaas-fn&namespace=openfaas-fn')).body).length, lines.length, 'name.namespace works too')
  })

  it('honours tail and since, and refuses unparseable parameters with 422', async () => {
    const all = parse((await logs('name=talker')).body)
    const tail = parse((await logs('name=talker&tail=2')).body)
    assert.deepEqual(tail, all.slice(-2))
    assert.equal(parse((await logs('name=talker&tail=0')).body).length, all.length, 'tail <= 0 is everything')
    await sleep(5)
    const mark = new Date().toISOString()
    await sleep(5)
    await k.app.inject({ method: 'POST', url: '/function/talker' })
    const since = parse((await logs(`name=talker&since=${encodeURIComponent(mark)}`)).body)
    assert.deepEqual(since.map((l) => l.text), ['hello from stderr'])
    assert.equal((await logs('name=talker&since=yesterday')).statusCode, 422)
    assert.equal((await logs('name=talker&tail=many')).statusCode, 422)
    assert.equal((await logs('name=talker&follow=perhaps')).statusCode, 422)
    assert.equal((await logs('name=nothere')).statusCode, 404)
    assert.equal((await logs('')).statusCode, 400)
    assert.equal((await k.app.inject({ method: 'GET', url: '/system/logs?name=talker' })).statusCode, 401)
  })

  it('follows new lines live and stops following when the client goes away', async () => {
    const url = new URL(await k.listen())
    // node:http, so that closing the stream closes its one socket (fetch may leave a spare one open)
    const req = http.get({ host: url.hostname, port: url.port, path: '/system/logs?name=talker&tail=1&follow=true', headers: k.auth })
    const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve))
    assert.equal(res.statusCode, 200)
    let text = ''
    res.on('data', (d: Buffer) => (text += d.toString()))
    await waitUntil('the tail line', () => parse(text).length === 1)
    assert.equal(k.logs.followerCount('talker.openfaas-fn'), 1)
    await k.app.inject({ method: 'POST', url: '/function/talker' })
    await waitUntil('the new line', () => parse(text).length >= 2)
    assert.equal(parse(text).at(-1)!.text, 'hello from stderr')
    req.destroy()
    await waitUntil('the follower to go', () => k.logs.followerCount('talker.openfaas-fn') === 0, 3000)
  })

  it('tells a function when the app host running it died', async () => {
    const host = (k.tiers.get('wasm') as WasmTier).hosts.running('talker')
    assert.ok(host, 'talker runs in its own app host')
    process.kill(host.pid!, 'SIGKILL')
    await waitUntil('the message', async () => /app host of application talker .*it will be replaced/.test((await logs('name=talker')).body), 5000)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/talker' })).body, 'ok', 'and the next call is served')
  })

  it('keeps the logs across a restart (they are in the data dir)', async () => {
    const before = parse((await logs('name=talker')).body)
    await k.close()
    k = await startKindling({}, { dataDir, keepDataDir: true })
    const after = parse((await logs('name=talker')).body)
    assert.deepEqual(after.slice(0, before.length), before)
  })
})
