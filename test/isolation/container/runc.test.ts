// The runc fallback: the same bundles, classic and HTTP mode, with `runc start` instead of crun's FIFO.
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildNodeImage } from '../../../isolation/container/images/index.js'
import { which } from '../../../isolation/container/runtime.js'
import { artifact, containerSkipReason, type Harness, makeHarness, never, REPO, request } from './helpers.js'

const skip = containerSkipReason() ?? (which('runc') ? false : 'runc is not installed (apt-get install runc)')

describe('container tier on runc', { skip, timeout: 120_000 }, () => {
  let h: Harness
  before(() => {
    h = makeHarness({ runtime: 'runc', pauseIdleMs: 100 })
  })
  after(async () => {
    await h.close()
  })

  it('probes runc and runs a classic call, a failing one and a timeout', async () => {
    assert.equal(h.tier.unavailableReason(), null)
    assert.equal(h.tier.runtime?.name, 'runc')
    const p = await h.tier.prepare(artifact({ envProcess: 'sha512sum' }))
    const sb = await h.tier.spawn(p, { sandboxId: 'runc-1' })
    const r = await sb.invoke(request({ text: 'abc' }), never())
    assert.equal(r.status, 200)
    assert.match(r.body.toString(), /^ddaf35a193617aba/)
    await sb.dispose('replaced')
    const f = await h.tier.spawn(await h.tier.prepare(artifact({ envProcess: 'false' })), { sandboxId: 'runc-2' })
    assert.equal((await f.invoke(request(), never())).errorCode, 'KINDLING_ERR_FUNCTION_EXIT')
    await f.dispose('replaced')
    const t = await h.tier.spawn(await h.tier.prepare(artifact({ envProcess: 'sleep 20' })), { sandboxId: 'runc-3' })
    assert.equal((await t.invoke(request({ deadline: Date.now() + 300 }), never())).errorCode, 'KINDLING_ERR_TIMEOUT')
    await t.dispose('failed')
    // the same seccomp profile and empty capability sets under runc (it parses the profile itself)
    const st = await h.tier.spawn(await h.tier.prepare(artifact({ envProcess: 'sh' })), { sandboxId: 'runc-4' })
    const out = (await st.invoke(request({ text: 'grep -E "^(Seccomp|CapEff|CapBnd):" /proc/self/status; unshare -U true 2>/dev/null || echo refused' }), never())).body.toString()
    await st.dispose('replaced')
    assert.match(out, /^Seccomp:\s+2$/m, out)
    assert.match(out, /^CapEff:\s+0+$/m)
    assert.match(out, /^CapBnd:\s+0+$/m)
    assert.match(out, /^refused$/m)
  })

  it('serves HTTP mode and pauses it', async () => {
    buildNodeImage(h.tier.images, { ref: 'test/node-http:1', add: [[path.join(REPO, 'functions/container/node-http'), '/home/app']], link: true })
    const p = await h.tier.prepare(artifact({ name: 'web', image: 'test/node-http:1', envProcess: 'node /home/app/server.mjs', envVars: { mode: 'http' }, stateMode: 'reuse', memoryBytes: 128 << 20 }))
    const sb = (await h.tier.spawn(p, { sandboxId: 'runc-http' })) as import('../../../isolation/container/http-mode.js').HttpSandbox
    try {
      assert.equal((await sb.invoke(request({ text: 'x' }), never())).status, 200)
      await sb.pause()
      assert.ok(sb.isPaused)
      const r = await sb.invoke(request({ text: 'y' }), never())
      assert.equal(JSON.parse(r.body.toString()).calls, 2)
    } finally {
      await sb.dispose('shutdown')
    }
  })
})
