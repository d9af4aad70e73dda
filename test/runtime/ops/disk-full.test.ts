// Issue 18, item 10: a full disk under the data dir. A real one: an 8 MiB tmpfs mounted as the
// data dir and filled with a file. Accepts, deploys, uploads and secret writes answer 507 with a
// code, calls are still served, the async worker's writes wait for space instead of killing the
// gateway, a restart on the full disk starts degraded, and freeing the space ends it.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { writeAtomic } from '../../../isolation/wasm/prepare.js'
import { exampleModule, startKindling, type TestKindling, waitWarm } from '../../helpers/kindling.js'
import { startServerProcess } from '../../helpers/server-process.js'
import { failUntil, flakyModule, sleep, sleeperModule, waitUntil } from './helpers.js'

const isRoot = process.getuid?.() === 0
const SETTINGS = { storageMinFreeBytes: 256 * 1024, storageCheckIntervalMs: 100 }
const INLINE = { labels: { 'com.kindling.isolation': 'inline' } }

/** Writes `file` until the file system says ENOSPC (bounded: 64 MiB at most). */
function fill(file: string): void {
  const fd = fs.openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024, 7)
  try {
    for (let i = 0; i < 1024; i++) fs.writeSync(fd, chunk)
    assert.fail('the tmpfs did not fill up')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
  } finally {
    fs.closeSync(fd)
  }
}

describe('a full disk under the data dir', { skip: isRoot ? false : 'needs root to mount a size-limited tmpfs as the data dir' }, () => {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-full-'))
  const dataDir = path.join(mnt, 'data')
  const filler = path.join(mnt, 'filler')
  let k: TestKindling | undefined
  let retried = ''
  let parked = ''

  before(() => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]))
  after(async () => {
    await k?.close()
    try {
      execFileSync('umount', [mnt], { stdio: 'pipe' })
    } catch {
      execFileSync('umount', ['-l', mnt]) // something of a failed start still holds a file there
    }
    fs.rmSync(mnt, { recursive: true, force: true })
  })

  const inject = (method: 'GET' | 'POST', url: string, payload?: string | Buffer | object, headers: Record<string, string> = {}) =>
    k!.app.inject({ method, url, payload, headers: { ...k!.auth, ...headers } })
  const accepted = async (name: string, body: string | Buffer) => {
    const r = await inject('POST', `/async-function/${name}`, body)
    assert.equal(r.statusCode, 202, r.body)
    return r.headers['x-call-id'] as string
  }
  const callState = async (id: string) => (await inject('GET', `/system/async-calls/${id}`)).json() as { state: string; attempts: number }

  it('answers 507 with a code for accepts, deploys, uploads and secret writes, and still serves calls', async () => {
    k = await startKindling(SETTINGS, { dataDir, keepDataDir: true })
    await k.deploy('echo', exampleModule('echo'), INLINE)
    // fails once and is retried 1 s later: the retry comes due while the disk is full
    await k.deploy('flaky', await flakyModule(), { ...INLINE, annotations: { 'com.openfaas.retry.attempts': '3', 'com.openfaas.retry.min_wait': '1s', 'com.openfaas.retry.max_wait': '1s' } })
    // runs while the disk fills: its result is written on the full disk
    await k.deploy('sleeper', await sleeperModule(2000))
    await waitWarm(k, 'sleeper')
    retried = await accepted('flaky', failUntil(Date.now() + 300))
    await waitUntil('the first run failed and waits for its retry', async () => {
      const s = await callState(retried)
      return s.state === 'queued' && s.attempts === 1
    })
    parked = await accepted('sleeper', 'x')
    await waitUntil('the sleeper running', async () => (await callState(parked)).state === 'running')

    fill(filler)
    const full = await inject('POST', '/async-function/echo', Buffer.alloc(512 * 1024, 1))
    assert.equal(full.statusCode, 507, full.body)
    assert.equal(full.headers['x-kindling-error'], 'KINDLING_ERR_STORAGE_FULL')
    assert.equal(full.json().code, 'KINDLING_ERR_STORAGE_FULL')

    const sync = await inject('POST', '/function/echo', 'still served')
    assert.equal(sync.statusCode, 200)
    assert.equal(sync.body, 'still served')

    const upload = await k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { ...k.auth, 'content-type': 'application/wasm' }, payload: fs.readFileSync(exampleModule('fib')) })
    assert.equal(upload.statusCode, 507, upload.body)
    assert.equal(upload.headers['x-kindling-error'], 'KINDLING_ERR_STORAGE_FULL')
    const secret = await inject('POST', '/system/secrets', { name: 's', rawValue: Buffer.from('v').toString('base64') })
    assert.equal(secret.statusCode, 507, secret.body)
    const image = k.dispatcher.get('echo', 'openfaas-fn')!.stored.deployment.image
    const deploy = await inject('POST', '/system/functions', { service: 'echo2', image, ...INLINE })
    assert.equal(deploy.statusCode, 507, deploy.body)
    assert.equal(deploy.headers['x-kindling-error'], 'KINDLING_ERR_STORAGE_FULL')
    // a refused deploy leaves nothing running: here, the app host started for its application
    const refused = await inject('POST', '/system/functions', { service: 'echo3', image, labels: { 'com.kindling.app': 'refused' } })
    assert.equal(refused.statusCode, 507, refused.body)
    const hosts = (k.tiers.get('wasm') as unknown as { hosts: { apps(): string[] } }).hosts
    await waitUntil('no app host left for the refused deploy', () => !hosts.apps().includes('refused'))

    const health = await k.app.inject({ method: 'GET', url: '/healthz' })
    assert.equal(health.statusCode, 200, 'a probe must not restart a gateway that serves')
    assert.equal(health.headers['x-kindling-degraded'], 'storage-full')
    assert.match(health.body, /^OK, degraded: /)
    assert.doesNotMatch(health.body, /\//, 'no paths for unauthenticated callers')
    const info = (await inject('GET', '/system/info')).json() as { storage: { degraded: boolean; reason: string } }
    assert.equal(info.storage.degraded, true)
    assert.ok(info.storage.reason.length > 0)

    // the sleeper's result and the flaky call's retry meet the full disk; the gateway lives on
    // (this test runs in its process) and serves
    await sleep(2500)
    assert.equal((await inject('POST', '/function/echo', 'alive')).body, 'alive')
  })

  it('commits what waited once there is space: nothing accepted is lost or run twice', async () => {
    fs.rmSync(filler)
    await waitUntil('/healthz without degraded', async () => (await k!.app.inject({ method: 'GET', url: '/healthz' })).headers['x-kindling-degraded'] === undefined)
    const s = await waitUntil('the sleeper call done', async () => {
      const c = await callState(parked)
      return c.state === 'done' ? c : undefined
    })
    assert.equal(s.attempts, 1, 'its result was kept, not run again')
    await waitUntil('the flaky call done', async () => (await callState(retried)).state === 'done')
    const id = await accepted('echo', 'space again')
    await waitUntil('a new call done', async () => (await callState(id)).state === 'done')
    assert.equal((await inject('GET', '/system/info')).json().storage.degraded, false)
  })

  it('leaves no partial file behind when a cache or artifact write fails for lack of space', () => {
    fill(filler)
    const dir = path.join(dataDir, 'cache', 'wasm')
    const before = fs.readdirSync(dir)
    assert.throws(() => writeAtomic(path.join(dir, 'big.wasm'), Buffer.alloc(1024 * 1024)), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC')
    assert.deepEqual(fs.readdirSync(dir), before)
    fs.rmSync(filler)
  })

  it('starts again on the full disk, degraded, and serves calls', async () => {
    // a call under way when the gateway stops on a full disk runs again at the next start with space
    parked = await accepted('sleeper', 'x')
    await waitUntil('the sleeper running', async () => (await callState(parked)).state === 'running')
    fill(filler)
    await k!.close()
    k = undefined
    k = await startKindling(SETTINGS, { dataDir, keepDataDir: true })
    const health = await k.app.inject({ method: 'GET', url: '/healthz' })
    assert.equal(health.statusCode, 200)
    assert.equal(health.headers['x-kindling-degraded'], 'storage-full')
    const sync = await inject('POST', '/function/echo', 'after restart')
    assert.equal(sync.statusCode, 200, sync.body)
    assert.equal(sync.body, 'after restart')
    const refused = await inject('POST', '/async-function/echo', 'x')
    assert.equal(refused.statusCode, 507)
    assert.equal(refused.headers['x-kindling-error'], 'KINDLING_ERR_STORAGE_FULL')
  })

  it('leaves degraded mode once there is space again, runs the call left running, and accepts new ones', async () => {
    fs.rmSync(filler)
    await waitUntil('/healthz without degraded', async () => (await k!.app.inject({ method: 'GET', url: '/healthz' })).headers['x-kindling-degraded'] === undefined)
    const id = await accepted('echo', 'space again')
    await waitUntil('the new call done', async () => (await callState(id)).state === 'done')
    const s = await waitUntil('the call left running done', async () => {
      const c = await callState(parked)
      return c.state === 'done' ? c : undefined
    }, 30_000)
    assert.equal(s.attempts, 2)
  })

  it('a real kindling process starts on the full disk and says so over HTTP', async () => {
    await k!.close()
    k = undefined
    fill(filler)
    const srv = await startServerProcess(dataDir, { KINDLING_STORAGE_MIN_FREE_BYTES: String(SETTINGS.storageMinFreeBytes), KINDLING_STORAGE_CHECK_INTERVAL_MS: '100' })
    try {
      const health = await fetch(`${srv.url}/healthz`)
      assert.equal(health.status, 200)
      assert.equal(health.headers.get('x-kindling-degraded'), 'storage-full')
      const call = await fetch(`${srv.url}/function/echo`, { method: 'POST', body: 'over http' })
      assert.equal(call.status, 200)
      assert.equal(await call.text(), 'over http')
      const acc = await fetch(`${srv.url}/async-function/echo`, { method: 'POST', body: 'x' })
      assert.equal(acc.status, 507)
      assert.equal(acc.headers.get('x-kindling-error'), 'KINDLING_ERR_STORAGE_FULL')
      assert.equal(srv.child.exitCode, null, 'the gateway process is alive')
    } finally {
      await srv.stop()
      fs.rmSync(filler, { force: true })
    }
  })
})
