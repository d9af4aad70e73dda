// kill -9 of a worker mid-call (issue 12, item 5, async part): a gateway and two workers as real
// processes on one nats-server; the killed worker's call is given to the other worker after the
// ack wait, and every accepted call is called back exactly once (counted at a callback receiver).
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'
import { type ServerProcess, startServerProcess } from '../../helpers/server-process.js'
import { type CallbackServer, sleeperModule, startCallbackServer, waitUntil } from '../ops/helpers.js'

const skip = natsServerUnavailable()
const CALLS = 8

describe('cluster: a worker killed mid-call', { skip }, () => {
  let nats: NatsServer
  let dir: string
  let cb: CallbackServer
  const procs: ServerProcess[] = []
  before(async () => {
    nats = await startNatsServer()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-cluster-kill-'))
    fs.writeFileSync(path.join(dir, 'cluster.key'), crypto.randomBytes(32).toString('hex'))
    cb = await startCallbackServer()
  })
  after(async () => {
    for (const p of procs) await p.stop()
    await cb?.close()
    await nats?.stop()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  const start = async (name: string, role: string) => {
    const dataDir = path.join(dir, name)
    fs.mkdirSync(dataDir)
    // one call at a time per worker, so that the killed worker holds exactly one call when it dies
    const p = await startServerProcess(dataDir, {
      KINDLING_NATS_URL: nats.url, KINDLING_ROLE: role, KINDLING_CLUSTER_KEY_FILE: path.join(dir, 'cluster.key'),
      KINDLING_CLUSTER_ASYNC_ACK_WAIT_MS: '1500', KINDLING_ASYNC_CONCURRENCY: '1', KINDLING_CALLBACK_ALLOW: '127.0.0.1',
    })
    procs.push(p)
    return { p, dataDir, id: fs.readFileSync(path.join(dataDir, 'node-id'), 'utf8').trim() }
  }

  it('gives the dead worker\'s call to another worker; each accepted call is called back exactly once', async () => {
    const gw = await start('gw', 'gateway')
    const w1 = await start('w1', 'worker')
    const w2 = await start('w2', 'worker')
    const auth = `Basic ${Buffer.from(`admin:${fs.readFileSync(path.join(gw.dataDir, 'secrets', 'basic-auth-password'), 'utf8')}`).toString('base64')}`
    const up = await fetch(`${gw.p.url}/system/artifacts`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/wasm' }, body: Buffer.from(await sleeperModule(1000)) })
    const { image } = (await up.json()) as { image: string }
    const dep = await fetch(`${gw.p.url}/system/functions`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ service: 'slow', image }) })
    assert.equal(dep.status, 202)
    const status = async (id: string) => (await (await fetch(`${gw.p.url}/system/async-calls/${id}`, { headers: { authorization: auth } })).json()) as { state: string; node: string | null; startedAt: string | null; attempts: number }

    const ids: string[] = []
    for (let i = 0; i < CALLS; i++) {
      const r = await fetch(`${gw.p.url}/async-function/slow`, { method: 'POST', headers: { 'x-callback-url': cb.url }, body: `call ${i}` })
      assert.equal(r.status, 202)
      ids.push(r.headers.get('x-call-id')!)
    }
    // kill w1 while its call sleeps: claimed less than 400 ms ago, the function runs 1 s
    const victim = await waitUntil('a call just started on w1', async () => {
      for (const id of ids) {
        const s = await status(id)
        if (s.state === 'running' && s.node === w1.id && Date.now() - Date.parse(s.startedAt!) < 400) return id
      }
      return undefined
    }, 30_000, 20)
    const killedAt = Date.now()
    await w1.p.kill9()
    await waitUntil('a callback for every accepted call', () => ids.every((id) => cb.received.some((r) => r.headers['x-call-id'] === id)), 60_000, 50)
    const rescuedAt = cb.received.find((r) => r.headers['x-call-id'] === victim)!.at
    // a duplicate would come right after: give it the time of one more call
    await new Promise((r) => setTimeout(r, 1500))
    for (const id of ids) assert.equal(cb.received.filter((r) => r.headers['x-call-id'] === id).length, 1, `exactly one callback for ${id}`)
    assert.equal(cb.received.length, CALLS, 'nothing else')
    assert.ok(cb.received.every((r) => r.headers['x-function-status'] === '200' && r.body.toString() === 'slept'))
    const v = await status(victim)
    assert.equal(v.state, 'done')
    assert.equal(v.node, w2.id, 'the other worker ran it')
    assert.equal(v.attempts, 2, 'the run cut by the kill counts as an attempt')
    process.stderr.write(`# kill -9 of a worker mid-call: its call called back ${rescuedAt - killedAt} ms after the kill (ack wait 1500 ms); ${CALLS} accepted, ${cb.received.length} callbacks\n`)
  })
})
