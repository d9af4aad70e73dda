import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { WasmTier } from '../../../isolation/apphost/wasm-tier.js'
import { exampleModule, startKindling, type TestKindling, waitWarm } from '../../helpers/kindling.js'
import { UNSTOPPABLE_LOOP, wasiCommand, wat } from '../../helpers/wat.js'
import { isAlive } from '../../helpers/server-process.js'

/** A WASI command that sleeps `ms` through poll_oneoff (a blocking import), then prints "slept". */
export const sleeper = (ms: number) => wasiCommand(
  `(i64.store (i32.const 0) (i64.const 0)) (i32.store8 (i32.const 8) (i32.const 0)) (i32.store (i32.const 16) (i32.const 1))
   (i64.store (i32.const 24) (i64.const ${ms * 1_000_000})) (i64.store (i32.const 32) (i64.const 0)) (i32.store16 (i32.const 40) (i32.const 0))
   (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
   (i32.store (i32.const 200) (i32.const 300)) (i32.store (i32.const 204) (i32.const 5))
   (drop (call $fd_write (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 208)))`,
  `(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32))) (data (i32.const 300) "slept")`,
)

const hostOf = (k: TestKindling, app: string) => (k.tiers.get('wasm') as WasmTier).hosts.running(app)

describe('app hosts: one process per application', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling()
    await k.deploy('slow', await wat(sleeper(3000)), { labels: { 'com.kindling.app': 'a' } })
    await k.deploy('other', exampleModule('cat'), { labels: { 'com.kindling.app': 'b' } })
    await k.deploy('loop', await wat(wasiCommand('(loop $l (br $l))')), { labels: { 'com.kindling.app': 'c', 'com.kindling.timeout': '1000ms' } })
  })
  after(() => k.cleanup())

  it('puts each application in its own process', () => {
    const pids = ['a', 'b', 'c'].map((app) => hostOf(k, app)?.pid)
    assert.ok(pids.every((p) => typeof p === 'number'))
    assert.equal(new Set(pids).size, 3)
  })

  it('fails in-flight calls with 502 when an app host dies, replaces it, and leaves other applications untouched', async () => {
    await waitWarm(k, 'slow')
    const inflight = k.app.inject({ method: 'POST', url: '/function/slow' })
    await new Promise((r) => setTimeout(r, 200))
    const pid = hostOf(k, 'a')!.pid!
    process.kill(pid, 'SIGKILL')
    const r = await inflight
    assert.equal(r.statusCode, 502)
    assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_HOST_DIED')
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/other', payload: 'still here' })).body, 'still here')
    const again = await k.app.inject({ method: 'POST', url: '/function/slow', headers: {} })
    assert.equal(again.statusCode, 200, 'the next call gets a new host')
    assert.equal(again.body, 'slept')
    assert.notEqual(hostOf(k, 'a')!.pid, pid)
    const restarts = (await k.app.inject({ method: 'GET', url: '/metrics' })).body
    assert.match(restarts, /kindling_app_host_restarts_total 1/)
  })

  it('stops a runaway loop at its timeout with 504 while other applications keep answering', async () => {
    await waitWarm(k, 'loop')
    await waitWarm(k, 'other')
    const t0 = Date.now()
    const looping = k.app.inject({ method: 'POST', url: '/function/loop' })
    let loopEnded = false
    void looping.finally(() => (loopEnded = true))
    const during: number[] = []
    for (let i = 0; i < 5; i++) {
      const s = Date.now()
      const r = await k.app.inject({ method: 'POST', url: '/function/other', payload: 'x' })
      assert.equal(r.statusCode, 200)
      during.push(Date.now() - s)
      // an order, not a duration: the other application answered while the loop still ran
      assert.ok(!loopEnded, `other app answered only after the loop ended (calls took ${during} ms)`)
    }
    const r = await looping
    const took = Date.now() - t0
    assert.equal(r.statusCode, 504)
    assert.equal(r.headers['x-kindling-error'], 'KINDLING_ERR_TIMEOUT')
    assert.ok(took >= 990 && took < 2200, `answered after ${took} ms`)
    assert.equal((await k.app.inject({ method: 'POST', url: '/function/loop' })).statusCode, 504, 'the function keeps working (and timing out)')
  })
})

describe('app hosts: the kill backstop', () => {
  it('kills and replaces a host that does not stop a call by deadline + grace', async () => {
    // fuel so large that the compiled-in check does not fire within the deadline
    const k = await startKindling({ interruptFuel: 2 ** 31 - 1, timeoutGraceMs: 100 })
    try {
      await k.deploy('spin', await wat(UNSTOPPABLE_LOOP), { labels: { 'com.kindling.timeout': '200ms' } })
      await waitWarm(k, 'spin')
      const before = hostOf(k, 'spin')!.pid
      const t0 = Date.now()
      const r = await k.app.inject({ method: 'POST', url: '/function/spin' })
      assert.equal(r.statusCode, 504)
      assert.match(r.body, /did not stop it and was replaced/)
      assert.ok(Date.now() - t0 < 2000)
      await k.deploy('cat2', exampleModule('cat'), { labels: { 'com.kindling.app': 'spin' } })
      assert.equal((await k.app.inject({ method: 'POST', url: '/function/cat2', payload: 'y' })).body, 'y')
      assert.notEqual(hostOf(k, 'spin')!.pid, before)
    } finally {
      await k.cleanup()
    }
  })
})

describe('app hosts: an application without functions has no process', () => {

  it('keeps the host through an update and while one function is left, and stops it with the last one', async () => {
    const k = await startKindling()
    try {
      const labels = (tier: string) => ({ labels: { 'com.kindling.app': 'shared', 'com.kindling.isolation': tier } })
      await k.deploy('w', exampleModule('cat'), labels('wasm'))
      await k.deploy('t', exampleModule('cat'), labels('thread'))
      for (const name of ['w', 't']) assert.equal((await k.app.inject({ method: 'POST', url: `/function/${name}`, payload: name })).body, name)
      const pid = hostOf(k, 'shared')!.pid!

      const image = await k.upload(exampleModule('echo'))
      const put = await k.app.inject({ method: 'PUT', url: '/system/functions', headers: k.auth, payload: { service: 'w', image, ...labels('wasm') } })
      assert.equal(put.statusCode, 202, put.body)
      assert.equal((await k.app.inject({ method: 'POST', url: '/function/w', payload: 'new version' })).body, 'new version')
      assert.equal(hostOf(k, 'shared')?.pid, pid, 'an update does not restart the application')

      const del = (name: string) => k.app.inject({ method: 'DELETE', url: '/system/functions', headers: k.auth, payload: { functionName: name } })
      assert.equal((await del('w')).statusCode, 202)
      assert.equal(hostOf(k, 'shared')?.pid, pid, 'the thread function still lives there')
      assert.equal((await k.app.inject({ method: 'POST', url: '/function/t', payload: 'still' })).body, 'still')

      assert.equal((await del('t')).statusCode, 202)
      assert.equal(hostOf(k, 'shared'), undefined)
      const t0 = Date.now()
      while (isAlive(pid) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20))
      assert.equal(isAlive(pid), false, 'the app host process has exited')

      await k.deploy('again', exampleModule('cat'), { labels: { 'com.kindling.app': 'shared' } })
      assert.equal((await k.app.inject({ method: 'POST', url: '/function/again', payload: 'back' })).body, 'back')
      assert.notEqual(hostOf(k, 'shared')?.pid, pid)
    } finally {
      await k.cleanup()
    }
  })
})
