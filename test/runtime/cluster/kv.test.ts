// Key-value state in a cluster: two workers and a gateway on a real nats-server. A counter function
// (functions/dist/kv-counter.wasm, increment on its application's store) whose calls land on both
// workers counts 1..N without a gap or a repeat: the stores are in JetStream KV, not in each
// worker's data dir.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { NODE_HEADER } from '../../../runtime/cluster/calls/names.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'

const skip = natsServerUnavailable()
let nats: NatsServer
let dir: string
const workers: TestKindling[] = []
let gw: TestKindling

const until = async (cond: () => boolean, ms = 60_000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

before(async () => {
  if (skip) return
  nats = await startNatsServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-cluster-kv-'))
  const keyFile = path.join(dir, 'cluster.key')
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'))
  const node = (name: string, role: string) => startKindling({ natsUrl: nats.url, clusterKeyFile: keyFile, role }, { dataDir: path.join(dir, name) })
  for (const n of ['w1', 'w2']) workers.push(await node(n, 'worker'))
  gw = await node('gw', 'gateway')
  for (const k of [...workers, gw]) await k.listen()
  // no com.kindling.app label: an app label would send every call to one worker (placement.ts)
  await gw.deploy('counter', exampleModule('kv-counter'), { annotations: { 'com.kindling.kv': 'counter' } })
  await until(() => workers.every((w) => w.dispatcher.get('counter', 'openfaas-fn')?.pool) && gw.cluster!.membership.workers().length === 2)
})
after(async () => {
  for (const k of [gw, ...workers]) await k?.cleanup().catch(() => {})
  await nats?.stop()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

test('a counter whose calls land on both workers counts 1..N without gaps', { skip }, async () => {
  const counts: number[] = []
  const nodes = new Set<string>()
  // bursts of concurrent calls: the gateway spreads them by its count of calls in flight
  for (let round = 0; round < 6; round++) {
    await Promise.all(Array.from({ length: 8 }, async () => {
      const res = await fetch(`${gw.url}/function/counter`, { method: 'POST', body: '' })
      const text = await res.text()
      assert.equal(res.status, 200, text)
      counts.push(Number(text.trim()))
      nodes.add(res.headers.get(NODE_HEADER)!)
    }))
  }
  assert.deepEqual([...nodes].sort(), workers.map((w) => w.cluster!.id).sort(), 'calls ran on both workers')
  assert.deepEqual(counts.sort((a, b) => a - b), Array.from({ length: 48 }, (_, i) => i + 1))
  // a worker's data dir holds no store: the state is in the cluster
  for (const w of ['w1', 'w2']) assert.equal(fs.existsSync(path.join(dir, w, 'kv')), false)
})
