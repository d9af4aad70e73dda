// Triggers in a cluster, against a real nats-server: a function with `topic: orders.created` runs
// once per message published on the subject (two nodes subscribed, one queue group), as an async
// call with the message as its body and the subject in X-Topic; a NATS request gets the call id
// back. A cron schedule deployed on both nodes is delivered once per tick (a KV claim per tick).
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Config } from '../../../runtime/config.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'

const skip = natsServerUnavailable()

interface Seen { node: string; key: string; headers: Record<string, string>; body: string }

async function waitFor(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('triggers in a cluster: NATS subjects and cron ticks', { skip }, () => {
  let nats: NatsServer
  let dir: string
  let nc: NatsConnection
  const nodes: TestKindling[] = []
  const seen: Seen[] = []

  before(async () => {
    nats = await startNatsServer()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-triggers-'))
    const keyFile = path.join(dir, 'cluster.key')
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'))
    for (const name of ['a', 'b']) {
      const k = await startKindling({ natsUrl: nats.url, clusterKeyFile: keyFile } as Partial<Config>, { dataDir: path.join(dir, name) })
      await k.listen()
      // the real dispatcher, watched: what each node ran
      const invokeKey = k.dispatcher.invokeKey.bind(k.dispatcher)
      k.dispatcher.invokeKey = (key, req, signal) => {
        seen.push({ node: name, key, headers: { ...req.headers }, body: req.body.toString() })
        return invokeKey(key, req, signal)
      }
      nodes.push(k)
    }
    nc = await connect({ servers: nats.url })
  })
  after(async () => {
    await nc?.close()
    for (const k of nodes) await k.cleanup()
    await nats?.stop()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('runs the function once per message on the subject, with the message as body', async () => {
    const [a, b] = nodes as [TestKindling, TestKindling]
    await a.deploy('cat', exampleModule('cat'), { annotations: { topic: 'orders.created' } })
    await waitFor('both nodes subscribed', () => nodes.every((k) => k.triggers?.subjects?.subjectsOf('cat.openfaas-fn').includes('orders.created')))
    await nc.flush()
    // a request answers with the call id, which any node can tell the state of
    const reply = await nc.request('orders.created', 'first', { timeout: 5000 })
    const id = reply.string()
    assert.match(id, /^[0-9a-f-]{36}$/)
    const n = 20
    for (let i = 0; i < n; i++) nc.publish('orders.created', `order-${i}`)
    await nc.flush()
    const runs = () => seen.filter((s) => s.key === 'cat.openfaas-fn' && s.headers['x-kindling-trigger'] === 'nats')
    await waitFor(`${n + 1} runs`, () => runs().length >= n + 1)
    await new Promise((r) => setTimeout(r, 300)) // a duplicate would show up by now
    const bodies = runs().map((s) => s.body).sort()
    assert.deepEqual(bodies, ['first', ...Array.from({ length: n }, (_, i) => `order-${i}`)].sort(), 'each message once')
    assert.ok(runs().every((s) => s.headers['x-topic'] === 'orders.created'))
    const st = await (await fetch(`${b.url}/system/async-calls/${id}`, { headers: b.auth })).json() as { state: string; function: string }
    assert.equal(st.function, 'cat')
    const metrics = (await Promise.all(nodes.map(async (k) => (await fetch(`${k.url}/metrics`)).text()))).join('\n')
    const accepted = [...metrics.matchAll(/kindling_trigger_deliveries_total\{function_name="cat.openfaas-fn",trigger="nats",result="accepted"\} (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0)
    assert.equal(accepted, n + 1)
  })

  it('a removed function is unsubscribed on every node', async () => {
    const r = await fetch(`${nodes[0]!.url}/system/functions`, { method: 'DELETE', headers: { ...nodes[0]!.auth, 'content-type': 'application/json' }, body: JSON.stringify({ functionName: 'cat' }) })
    assert.equal(r.status, 202)
    await waitFor('unsubscribed', () => nodes.every((k) => k.triggers?.subjects?.subjectsOf('cat.openfaas-fn').length === 0))
  })

  it('delivers each cron tick once although both nodes run the schedule', async () => {
    await nodes[0]!.deploy('tick', exampleModule('cat'), { annotations: { topic: 'cron-function', schedule: '* * * * * *' } })
    await waitFor('both nodes scheduled', () => nodes.every((k) => k.triggers?.scheduler.keys().includes('tick.openfaas-fn')))
    const ticks = () => seen.filter((s) => s.key === 'tick.openfaas-fn').map((s) => s.headers['x-kindling-tick']!)
    await waitFor('three ticks run', () => ticks().length >= 3)
    const all = ticks()
    assert.equal(new Set(all).size, all.length, `each tick once: ${all.join(' ')}`)
  })
})
