import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, describe, it } from 'node:test'
import { tempDataDir } from '../../helpers/kindling.js'
import { startServerProcess } from '../../helpers/server-process.js'
import { sleeperModule, startCallbackServer, waitUntil } from './helpers.js'

const authOf = (dataDir: string) => `Basic ${Buffer.from(`admin:${fs.readFileSync(`${dataDir}/secrets/basic-auth-password`, 'utf8')}`).toString('base64')}`

describe('async: accepted calls survive kill -9', () => {
  const dirs: string[] = []
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

  it('delivers every accepted call to its callback after kindling is killed with SIGKILL and started again', async () => {
    const dataDir = tempDataDir()
    dirs.push(dataDir)
    const cb = await startCallbackServer()
    // one call at a time, so that most calls are still queued when kindling dies
    const env = { KINDLING_ASYNC_CONCURRENCY: '1', KINDLING_CALLBACK_ALLOW: '127.0.0.1' }
    let srv = await startServerProcess(dataDir, env)
    try {
      const auth = authOf(dataDir)
      const up = await fetch(`${srv.url}/system/artifacts`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/wasm' }, body: Buffer.from(await sleeperModule(150)) })
      const { image } = (await up.json()) as { image: string }
      const dep = await fetch(`${srv.url}/system/functions`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ service: 'slow', image }) })
      assert.equal(dep.status, 202)

      const ids: string[] = []
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`${srv.url}/async-function/slow`, { method: 'POST', headers: { 'x-callback-url': cb.url }, body: `call ${i}` })
        assert.equal(r.status, 202)
        ids.push(r.headers.get('x-call-id')!)
      }
      await cb.waitFor(3, 20_000)
      await srv.kill9()
      const before = new Set(cb.received.map((c) => c.headers['x-call-id']))
      assert.ok(before.size < 20, `kindling died with calls left (${before.size} of 20 delivered)`)

      srv = await startServerProcess(dataDir, env)
      await waitUntil('every call delivered', () => new Set(cb.received.map((c) => c.headers['x-call-id'])).size === 20, 30_000, 100)
      const delivered = cb.received.map((c) => c.headers['x-call-id'] as string)
      assert.deepEqual([...new Set(delivered)].sort(), [...ids].sort(), 'every accepted call, and nothing else')
      // at-least-once: a call running (or a callback being sent) at the kill may be delivered twice
      assert.ok(delivered.length <= 22, `${delivered.length - 20} duplicates`)
      assert.ok(cb.received.every((c) => c.headers['x-function-status'] === '200' && c.body.toString() === 'slept'))
      for (const id of ids) {
        const s = (await (await fetch(`${srv.url}/system/async-calls/${id}`, { headers: { authorization: auth } })).json()) as { state: string }
        assert.equal(s.state, 'done', id)
      }
    } finally {
      await srv.stop()
      await cb.close()
    }
  })
})
