// Classic watchdog mode on real crun containers: one process per call from a container created
// ahead, the OpenFaaS toolbox images unchanged, limits, isolation, timeouts and faults.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ClassicSandbox } from '../../../isolation/container/classic.js'
import { buildNodeImage } from '../../../isolation/container/images/index.js'
import type { InvokeRequest, InvokeResult } from '../../../isolation/tier.js'
import { isKindlingError } from '../../../runtime/errors.js'
import { artifact, containerSkipReason, eventually, type Harness, makeHarness, never, REPO, request, type ArtifactOverrides } from './helpers.js'

const skip = containerSkipReason() ?? false

describe('container tier, classic mode', { skip, timeout: 180_000 }, () => {
  let h: Harness
  before(() => {
    h = makeHarness({ pidsLimit: 32, registry: false })
    assert.equal(h.tier.unavailableReason(), null)
    buildNodeImage(h.tier.images, { ref: 'test/node-classic:1', add: [[path.join(REPO, 'functions/container/node-classic'), '/home/app']], link: true })
    h.secrets.set('openfaas-fn/api-key', Buffer.from('s3cret-value'))
  })
  after(async () => {
    await h.close()
  })

  /** prepare + spawn + one call + dispose, as the pool does for a cold start. */
  async function call(a: ArtifactOverrides, r: Partial<InvokeRequest> & { text?: string } = {}): Promise<InvokeResult> {
    const p = await h.tier.prepare(artifact(a))
    const sb = await h.tier.spawn(p, { sandboxId: `sb-${Math.random().toString(36).slice(2, 8)}` })
    try {
      const res = await sb.invoke(request(r), never())
      assert.equal(sb.alive, false, 'a classic container serves one call')
      return res
    } finally {
      await sb.dispose('replaced')
    }
  }

  it('runs functions/alpine with fprocess cat, env and sha512sum unchanged', async () => {
    const cat = await call({ envProcess: 'cat' }, { text: 'hello container' })
    assert.equal(cat.status, 200)
    assert.equal(cat.body.toString(), 'hello container')
    assert.ok(cat.headers['x-duration-seconds'])

    const env = await call(
      { envProcess: 'env', envVars: { greeting: 'hi', Http_Team: 'deployment' } },
      // a caller's headers must not forge the gateway's variables nor the deployment's Http_* ones
      { method: 'GET', path: '/some/path', query: 'a=1', headers: { 'x-call-id': 'id-42', 'content-type': 'text/plain', method: 'DELETE', path: '/forged', team: 'caller' } },
    )
    const vars = env.body.toString()
    for (const kv of ['Http_Method=GET', 'Http_Path=/some/path', 'Http_Query=a=1', 'Http_X_Call_Id=id-42', 'Http_Content_Type=text/plain', 'greeting=hi', 'fprocess=env', 'Http_Team=deployment']) {
      assert.ok(vars.includes(kv + '\n'), `${kv} in\n${vars}`)
    }
    for (const forged of ['Http_Method=DELETE', 'Http_Path=/forged', 'Http_Team=caller']) assert.ok(!vars.includes(forged + '\n'), `${forged} must not be in\n${vars}`)

    const input = crypto.randomBytes(100_000)
    const sha = await call({ envProcess: 'sha512sum' }, { body: input })
    assert.equal(sha.status, 200)
    assert.equal(sha.body.toString(), `${crypto.createHash('sha512').update(input).digest('hex')}  -\n`)
  })

  it('sets Content-Type from content_type, else from the request, else text/plain', async () => {
    assert.equal((await call({ envVars: { content_type: 'application/json' } }, { headers: { 'content-type': 'text/x-a' } })).headers['content-type'], 'application/json')
    assert.equal((await call({}, { headers: { 'content-type': 'text/x-a' } })).headers['content-type'], 'text/x-a')
    assert.equal((await call({}, { headers: {} })).headers['content-type'], 'text/plain')
  })

  it('answers 500 with the error JSON, stderr in its message, on a non-zero exit, and logs stderr', async () => {
    const f = await call({ envProcess: 'false' })
    assert.equal(f.status, 500)
    assert.equal(f.errorCode, 'KINDLING_ERR_FUNCTION_EXIT')
    const n = await call({ image: 'test/node-classic:1', envProcess: 'node /home/app/handler.mjs', name: 'nodefail' }, { query: 'exit=3', text: 'abc' })
    assert.equal(n.status, 500)
    assert.equal(n.errorCode, 'KINDLING_ERR_FUNCTION_EXIT')
    assert.equal(n.headers['content-type'], 'application/json; charset=utf-8')
    const e = JSON.parse(n.body.toString()) as { code: string; status: number; message: string }
    assert.equal(e.code, 'KINDLING_ERR_FUNCTION_EXIT')
    assert.equal(e.status, 500)
    assert.match(e.message, /^fprocess exited with status 3\. .*its stderr follows\.\nexiting with 3 as asked\n$/)
    assert.ok(h.logs.some((l) => l.key === 'nodefail.openfaas-fn' && l.stream === 'stderr' && l.text === 'exiting with 3 as asked'))
    assert.ok(h.logs.some((l) => l.stream === 'system' && l.text === 'Forking fprocess.'))
    assert.ok(h.logs.some((l) => l.stream === 'system' && /^Wrote \d+ Bytes - Duration: /.test(l.text)))
  })

  it('runs a node classic handler with the request in Http_* variables', async () => {
    const r = await call({ image: 'test/node-classic:1', envProcess: 'node /home/app/handler.mjs' }, { method: 'PUT', path: '/p', text: 'node body' })
    assert.equal(r.status, 200, r.body.toString())
    assert.deepEqual(JSON.parse(r.body.toString()), { method: 'PUT', path: '/p', length: 9, upper: 'NODE BODY', kept: 0 })
  })

  it('kills a call at its deadline and answers 504 (OpenFaaS classic says 408)', async () => {
    const t0 = Date.now()
    const r = await call({ envProcess: 'sleep 30' }, { deadline: Date.now() + 300 })
    assert.equal(r.status, 504)
    assert.equal(r.errorCode, 'KINDLING_ERR_TIMEOUT')
    assert.ok(Date.now() - t0 < 5000, 'killed, not waited for')
    const e = await call({ envProcess: 'sleep 30', envVars: { exec_timeout: '300ms' } })
    assert.equal(e.errorCode, 'KINDLING_ERR_TIMEOUT')
  })

  it('reports a kill at the memory limit as such', async () => {
    const r = await call(
      { image: 'test/node-classic:1', envProcess: 'node /home/app/handler.mjs', memoryBytes: 64 * 1024 * 1024 },
      { query: 'alloc=200' },
    )
    assert.equal(r.status, 500)
    assert.equal(r.errorCode, 'KINDLING_ERR_MEMORY_LIMIT', r.body.toString())
    assert.match(r.body.toString(), /memory limit of 64 MiB/)
  })

  it('puts the limits into the cgroup: memory, cpu and pids', async () => {
    const mem = await call({ envProcess: 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes', memoryBytes: 96 * 1024 * 1024 })
    assert.equal(mem.body.toString().trim(), String(96 * 1024 * 1024))
    const cpu = await call({ envProcess: 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us', cpuCores: 0.25 })
    assert.equal(cpu.body.toString().trim(), '25000')
    const pids = await call({ envProcess: 'cat /sys/fs/cgroup/pids/pids.max' })
    assert.equal(pids.body.toString().trim(), '32')
    // fork beyond the pids limit fails inside; the container survives
    const fork = await call({ envProcess: 'sh' }, { text: 'for i in $(seq 1 60); do sleep 2 & done 2>&1 | head -1; echo survived' })
    assert.match(fork.body.toString(), /can't fork|Resource temporarily unavailable/)
    assert.match(fork.body.toString(), /survived/)
  })

  it('isolates: read-only root, writable /tmp, loopback-only network, own PID namespace', async () => {
    assert.equal((await call({ envProcess: 'touch /x' })).status, 500)
    assert.equal((await call({ envProcess: 'touch /tmp/x' })).status, 200)
    const net = (await call({ envProcess: 'cat /proc/net/dev' })).body.toString()
    const ifaces = net.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0]!.trim())
    assert.deepEqual(ifaces, ['lo'])
    const ps = await call({ envProcess: 'sh' }, { text: 'ls -d /proc/[0-9]* | wc -l' })
    assert.ok(Number(ps.body.toString().trim()) <= 4, `few processes visible: ${ps.body.toString()}`)
  })

  it('gives a writable rootfs per sandbox when readOnlyRootFilesystem is false', async () => {
    const w = await call({ envProcess: 'sh', readOnlyRootFilesystem: false }, { text: 'echo data > /written && cat /written' })
    assert.equal(w.status, 200, w.body.toString())
    assert.equal(w.body.toString(), 'data\n')
    const again = await call({ envProcess: 'sh', readOnlyRootFilesystem: false }, { text: 'cat /written 2>&1 || echo absent' })
    assert.match(again.body.toString(), /absent/, 'writes never leak into the image or the next sandbox')
    const image = (await h.tier.images.resolve('functions/alpine:latest'))!
    assert.ok(!fs.existsSync(path.join(image.rootfs, 'written')))
  })

  it('mounts secrets read-only at /var/openfaas/secrets/<name>', async () => {
    const r = await call({ envProcess: 'cat /var/openfaas/secrets/api-key', secrets: ['api-key'] })
    assert.equal(r.body.toString(), 's3cret-value')
    const w = await call({ envProcess: 'sh', secrets: ['api-key'] }, { text: 'echo x > /var/openfaas/secrets/api-key' })
    assert.equal(w.status, 500)
  })

  it('refuses at prepare: unknown image (listing local images), missing program, wasm, missing secret', async () => {
    const code = (c: string, re?: RegExp) => (e: unknown) => isKindlingError(e) && e.code === c && (!re || re.test(e.message))
    await assert.rejects(h.tier.prepare(artifact({ image: 'acme/unknown:1' })), code('KINDLING_ERR_IMAGE_NOT_FOUND', /Local images: .*functions\/alpine:latest.*kindling image import/))
    await assert.rejects(h.tier.prepare(artifact({ envProcess: 'no-such-program' })), code('KINDLING_ERR_INVALID_FIELD', /no-such-program/))
    await assert.rejects(h.tier.prepare(artifact({ image: `wasm:sha256:${'a'.repeat(64)}`, kind: 'wasm-module' })), code('KINDLING_ERR_INVALID_IMAGE'))
    await assert.rejects(h.tier.prepare(artifact({ secrets: ['absent'] })), code('KINDLING_ERR_SECRET_NOT_FOUND'))
    await assert.rejects(h.tier.prepare(artifact({ envVars: { mode: 'static' } })), code('KINDLING_ERR_INVALID_FIELD'))
  })

  it('notices a created container that died before its call, so the pool replaces it', async () => {
    const p = await h.tier.prepare(artifact())
    const sb = (await h.tier.spawn(p, { sandboxId: 'doomed' })) as ClassicSandbox
    assert.equal(sb.alive, true)
    await h.tier.runtime!.kill(sb.containerId, 'KILL')
    assert.ok(await eventually(() => !sb.alive), 'alive turns false')
    const r = await sb.invoke(request(), never())
    assert.equal(r.status, 502)
    assert.equal(r.errorCode, 'KINDLING_ERR_HOST_DIED')
    await sb.dispose('failed')
  })

  it('removes the container, its cgroup and its folder on dispose', async () => {
    const p = await h.tier.prepare(artifact())
    const sb = (await h.tier.spawn(p, { sandboxId: 'tidy' })) as ClassicSandbox
    const cg = `/sys/fs/cgroup/memory${sb.cgroupsPath}`
    assert.ok(fs.existsSync(cg) && fs.existsSync(sb.dir))
    await sb.invoke(request(), never())
    await sb.dispose('replaced')
    assert.ok(!fs.existsSync(cg), 'cgroup removed')
    assert.ok(!fs.existsSync(sb.dir), 'folder removed')
    assert.ok(!(await h.tier.runtime!.list()).some((c) => c.id === sb.containerId), 'container deleted')
  })
})
