// HTTP mode on real crun containers: a warm server reached over a Unix socket (or through the
// in-netns forwarder for TCP-only servers), reuse, freezer pause/resume, faults.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { HttpSandbox } from '../../../isolation/container/http-mode.js'
import { buildNodeImage } from '../../../isolation/container/images/index.js'
import type { FunctionArtifact } from '../../../isolation/tier.js'
import { isKindlingError } from '../../../runtime/errors.js'
import { artifact, containerSkipReason, eventually, type Harness, makeHarness, never, REPO, request } from './helpers.js'

const skip = containerSkipReason() ?? false
const SERVER = 'node /home/app/server.mjs'

describe('container tier, HTTP mode', { skip, timeout: 180_000 }, () => {
  let h: Harness
  before(() => {
    h = makeHarness({ pauseIdleMs: 150, readyTimeoutMs: 10_000 })
    buildNodeImage(h.tier.images, { ref: 'test/node-http:1', add: [[path.join(REPO, 'functions/container/node-http'), '/home/app']], link: true })
    h.secrets.set('openfaas-fn/token', Buffer.from('tok-123'))
  })
  after(async () => {
    await h.close()
  })

  const httpFn = (over: Partial<FunctionArtifact> = {}): FunctionArtifact =>
    artifact({ name: 'web', image: 'test/node-http:1', envProcess: SERVER, stateMode: 'reuse', memoryBytes: 128 * 1024 * 1024, ...over, envVars: { mode: 'http', ...(over.envVars ?? {}) } })

  async function spawn(over: Partial<FunctionArtifact> = {}): Promise<HttpSandbox> {
    const p = await h.tier.prepare(httpFn(over))
    return (await h.tier.spawn(p, { sandboxId: `web-${Math.random().toString(36).slice(2, 8)}` })) as HttpSandbox
  }

  const json = (b: Buffer): Record<string, unknown> => JSON.parse(b.toString()) as Record<string, unknown>

  it('proxies calls to a ready server over a Unix socket and reuses it', async () => {
    const sb = await spawn()
    try {
      assert.ok(sb.alive)
      assert.ok(sb.startup.spawnUs > 0)
      const r1 = await sb.invoke(request({ method: 'PUT', path: '/echo', query: 'q=1', text: 'abc', headers: { 'content-type': 'text/plain', 'x-call-id': 'c1' } }), never())
      assert.equal(r1.status, 200)
      assert.equal(r1.headers['content-type'], 'application/json')
      assert.ok(r1.headers['x-duration-seconds'])
      const b1 = json(r1.body)
      assert.deepEqual([b1['method'], b1['path'], b1['query'], b1['upper'], b1['calls']], ['PUT', '/echo', 'q=1', 'ABC', 1])
      const r2 = await sb.invoke(request(), never())
      assert.equal(json(r2.body)['calls'], 2, 'same warm server')
      assert.ok(sb.alive)
      assert.ok(h.logs.some((l) => l.key === 'web.openfaas-fn' && l.stream === 'stdout' && l.text === 'listening on /run/kindling/http.sock'))
    } finally {
      await sb.dispose('scale-down')
    }
  })

  it('reaches a server that only listens on TCP (upstream_url) through the in-netns forwarder', async () => {
    const sb = await spawn({ envVars: { upstream_url: 'http://127.0.0.1:5000', http_port: '5000' } })
    try {
      const r = await sb.invoke(request({ text: 'tcp' }), never())
      assert.equal(r.status, 200)
      assert.equal(json(r.body)['upper'], 'TCP')
      const env = json((await sb.invoke(request({ path: '/env', method: 'GET' }), never())).body)
      assert.equal(env['KINDLING_HTTP_SOCKET'], undefined)
    } finally {
      await sb.dispose('scale-down')
    }
  })

  it('pauses an idle container with the freezer and resumes it on the next call', async () => {
    const sb = await spawn()
    try {
      await sb.invoke(request(), never())
      assert.ok(await eventually(() => sb.isPaused, 3000), 'paused after the idle time')
      const state = fs.readFileSync(`/sys/fs/cgroup/freezer${sb.cgroupsPath}/freezer.state`, 'utf8').trim()
      assert.equal(state, 'FROZEN')
      const r = await sb.invoke(request(), never())
      assert.equal(r.status, 200)
      assert.equal(json(r.body)['calls'], 2, 'state kept across the pause')
      assert.ok(sb.lastResumeUs > 0)
      assert.equal(r.timings!.instantiateUs, sb.lastResumeUs)
      assert.equal(fs.readFileSync(`/sys/fs/cgroup/freezer${sb.cgroupsPath}/freezer.state`, 'utf8').trim(), 'THAWED')
    } finally {
      await sb.dispose('scale-down')
    }
  })

  it('kills a call stuck past its deadline together with its container (504)', async () => {
    const sb = await spawn()
    try {
      const r = await sb.invoke(request({ path: '/sleep', query: 'ms=5000', deadline: Date.now() + 300 }), never())
      assert.equal(r.status, 504)
      assert.equal(r.errorCode, 'KINDLING_ERR_TIMEOUT')
      assert.equal(sb.alive, false, 'the pool replaces it')
    } finally {
      await sb.dispose('failed')
    }
  })

  it('reports a server that dies during a call, and one killed at its memory limit', async () => {
    const crash = await spawn()
    try {
      const r = await crash.invoke(request({ path: '/crash' }), never())
      assert.equal(r.status, 502)
      assert.equal(r.errorCode, 'KINDLING_ERR_HOST_DIED')
      assert.ok(await eventually(() => !crash.alive))
      assert.ok(h.logs.some((l) => l.stream === 'stderr' && l.text === 'crashing on request'))
    } finally {
      await crash.dispose('failed')
    }
    const oom = await spawn({ memoryBytes: 64 * 1024 * 1024 })
    try {
      const r = await oom.invoke(request({ path: '/alloc', query: 'mb=200' }), never())
      assert.equal(r.status, 500)
      assert.equal(r.errorCode, 'KINDLING_ERR_MEMORY_LIMIT', r.body.toString())
      assert.equal(oom.alive, false)
    } finally {
      await oom.dispose('failed')
    }
  })

  it('waits for ready_path, mounts secrets and enforces max_inflight', async () => {
    const sb = await spawn({ envVars: { ready_path: '/env', max_inflight: '1' }, secrets: ['token'] })
    try {
      const s = json((await sb.invoke(request({ path: '/secret', query: 'name=token', method: 'GET' }), never())).body)
      assert.equal(s['value'], 'tok-123')
      const slow = sb.invoke(request({ path: '/sleep', query: 'ms=300' }), never())
      const second = await sb.invoke(request(), never())
      assert.equal(second.status, 429)
      assert.equal(second.errorCode, 'KINDLING_ERR_OVERLOADED')
      assert.equal((await slow).status, 200)
    } finally {
      await sb.dispose('scale-down')
    }
  })

  it('fails spawn clearly when the server never listens', async () => {
    const fast = makeHarness({ readyTimeoutMs: 500 })
    try {
      const p2 = await fast.tier.prepare(httpFn({ envProcess: 'sleep 60', image: 'functions/alpine:latest' }))
      await assert.rejects(fast.tier.spawn(p2, { sandboxId: 'never' }), (e: unknown) => isKindlingError(e) && e.code === 'KINDLING_ERR_SANDBOX_FAILED' && /not ready within 500 ms/.test(e.message))
      assert.equal(fast.tier.sandboxCount, 0)
    } finally {
      await fast.close()
    }
  })

  it('answers a stateMode=fresh function with a new server per call', async () => {
    const sb = await spawn({ stateMode: 'fresh' })
    try {
      assert.equal((await sb.invoke(request(), never())).status, 200)
      assert.equal(sb.alive, false)
    } finally {
      await sb.dispose('replaced')
    }
  })
})

