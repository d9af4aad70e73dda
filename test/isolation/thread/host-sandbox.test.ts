// The app-host side of the thread tier, run in this process: real worker threads through piscina,
// the module handed over by structured clone, the cancel flag, the terminate backstop, replacement
// of dead workers from the spares, and resourceLimits.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { ThreadSandboxHost, type ThreadFunctionInfo } from '../../../isolation/thread/host-sandbox.js'
import { WorkerHandle, WorkerSpares } from '../../../isolation/thread/worker-pools.js'
import { request, wasmFunction } from '../wasm/runner-helpers.js'
import { UNSTOPPABLE_LOOP, wasiCommand, wat } from '../../helpers/wat.js'

const spares = new WorkerSpares(1)
const lost: string[] = []

async function threadFunction(source: string | Uint8Array, extra: Partial<ThreadFunctionInfo> = {}, fuel?: number): Promise<ThreadFunctionInfo> {
  const fn = wasmFunction(source, fuel ? { fuel } : {})
  spares.addUser(extra.heapMiB ?? 32)
  return { fnId: `f${Math.random()}`, module: fn.module, plan: fn.plan, heapMiB: 32, graceMs: 150, spares, onWorkerLost: (r) => lost.push(r), ...extra }
}

describe('thread tier: worker sandboxes in an app host', () => {
  const made: ThreadSandboxHost[] = []
  const sandbox = (info: ThreadFunctionInfo) => {
    const sb = new ThreadSandboxHost(info)
    made.push(sb)
    return sb
  }
  after(async () => {
    for (const sb of made) sb.dispose()
    spares.close()
  })

  it('runs calls on its worker with a fresh instance each time', async () => {
    const sb = sandbox(await threadFunction('counter'))
    assert.ok((await sb.ready()) >= 0)
    const seen = []
    for (let i = 0; i < 3; i++) seen.push((await sb.invoke(request())).body.toString().trim())
    assert.deepEqual(seen, ['1', '1', '1'])
    const cat = sandbox(await threadFunction('cat'))
    await cat.ready()
    const r = await cat.invoke(request('through a worker'))
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), 'through a worker')
    assert.ok(Buffer.isBuffer(r.body))
    assert.notEqual(cat.threadId, sb.threadId, 'each sandbox has a worker of its own')
  })

  it('stops a loop through the compiled-in checks, keeping its worker', async () => {
    const sb = sandbox(await threadFunction(await wat(wasiCommand('(loop $l (br $l))'))))
    await sb.ready()
    const tid = sb.threadId
    const t0 = Date.now()
    const r = await sb.invoke(request('', { deadline: Date.now() + 200 }))
    assert.equal(r.status, 504)
    assert.equal(r.errorCode, 'KINDLING_ERR_TIMEOUT')
    assert.ok(Date.now() - t0 < 1000)
    assert.equal(sb.threadId, tid)
  })

  it('terminates a worker that does not stop by deadline + grace, and replaces it', async () => {
    const lostBefore = lost.length
    const sb = sandbox(await threadFunction(await wat(UNSTOPPABLE_LOOP), {}, 2 ** 31 - 1))
    await sb.ready()
    const tid = sb.threadId
    const t0 = Date.now()
    const r = await sb.invoke(request('', { deadline: Date.now() + 200 }))
    const took = Date.now() - t0
    assert.equal(r.status, 504)
    assert.match(r.body.toString(), /terminated and replaced/)
    assert.ok(took >= 340 && took < 2000, `answered after ${took} ms (deadline 200 + grace 150)`)
    assert.equal(lost.length, lostBefore + 1)
    // the replacement has the function loaded: the next call runs (and times out again)
    await sb.ready()
    assert.notEqual(sb.threadId, tid)
    assert.equal((await sb.invoke(request('', { deadline: Date.now() + 100 }))).status, 504)
  })

  it('replaces a worker that was killed while idle; the next call runs on the new one', async () => {
    const sb = sandbox(await threadFunction('cat'))
    await sb.ready()
    const tid = sb.threadId
    await sb.kill()
    const r = await sb.invoke(request('after the kill'))
    assert.equal(r.body.toString(), 'after the kill')
    assert.notEqual(sb.threadId, tid)
    assert.equal(sb.replacements, 1)
  })

  it('takes booted spare workers: a new sandbox does not wait for a worker start', async () => {
    const info = await threadFunction('cat')
    await sandbox(info).ready()
    // wait (bounded) for the spare started after the first take to boot
    for (let i = 0; i < 100 && spares.bootedCount < 1; i++) await new Promise((r) => setTimeout(r, 50))
    assert.ok(spares.bootedCount >= 1)
    const startedBefore = spares.started
    const t0 = performance.now()
    const sb = sandbox(info)
    await sb.ready()
    const ms = performance.now() - t0
    assert.equal((await sb.invoke(request('spare'))).body.toString(), 'spare')
    assert.ok(ms < 100, `a sandbox from a spare took ${ms.toFixed(1)} ms`)
    // taking the spare starts the next one in the background
    await new Promise((r) => setImmediate(r))
    assert.equal(spares.started, startedBefore + 1)
  })

  it('gives workers resourceLimits from the memory limit', async () => {
    const w = new WorkerHandle(24)
    try {
      await w.booted
      assert.equal(w.thread?.resourceLimits?.maxOldGenerationSizeMb, 24)
    } finally {
      w.destroy()
    }
  })
})
