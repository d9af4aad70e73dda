// Membership against a real nats-server: nodes see each other, a node that leaves or stops beating is gone.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { connectCluster, type ClusterLink } from '../../../runtime/cluster/connect.js'
import { Membership, type NodeRecord } from '../../../runtime/cluster/membership.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'

const skip = natsServerUnavailable()
let nats: NatsServer
const links: ClusterLink[] = []
before(async () => {
  if (!skip) nats = await startNatsServer()
})
after(async () => {
  for (const l of links) await l.close()
  await nats?.stop()
})

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

const record = (id: string, role: NodeRecord['role']): NodeRecord => ({
  id, role, url: `http://127.0.0.1/${id}`, tiers: role === 'gateway' ? [] : ['wasm'], warm: {}, inflight: 0, load: 0,
  startedAt: new Date().toISOString(), sentAt: new Date().toISOString(),
})

test('nodes see each other; one that leaves is gone, one that stops beating times out', { skip }, async () => {
  const make = async (id: string, role: NodeRecord['role']) => {
    const link = await connectCluster(nats.url, { name: id, timeoutMs: 2000 })
    links.push(link)
    const m = new Membership(link, () => record(id, role), { heartbeatMs: 100, ttlMs: 600 })
    await m.start()
    return { m, link }
  }
  const g = await make('g1', 'gateway')
  const w1 = await make('w1', 'worker')
  const w2 = await make('w2', 'all')
  await until(() => g.m.nodes().length === 3)
  assert.deepEqual(g.m.workers().map((n) => n.id).sort(), ['w1', 'w2'])
  await w1.m.stop()
  await until(() => g.m.workers().length === 1)
  // a node that dies (its connection goes without a goodbye) drops out after the ttl
  await w2.link.nc.close()
  await until(() => g.m.workers().length === 0)
  await g.m.stop()
})
