// A kindling node that joins a cluster: it announces itself (role, URL, tiers) to the others, keeps
// its id across restarts, and a bad cluster setting stops the start with a clear error.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { loadConfig } from '../../../runtime/config.js'
import { createKindling, type Kindling } from '../../../runtime/kindling.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'

const skip = natsServerUnavailable()
let nats: NatsServer
let dir: string
let keyFile: string
before(async () => {
  if (skip) return
  nats = await startNatsServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-node-'))
  keyFile = path.join(dir, 'cluster.key')
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'))
})
after(async () => {
  await nats?.stop()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

const configOf = (name: string, over: Record<string, string> = {}) =>
  loadConfig({ KINDLING_DATA_DIR: path.join(dir, name), KINDLING_PORT: '0', KINDLING_DEPLOY_EXAMPLES: 'false', KINDLING_SPARE_APP_HOSTS: '0', KINDLING_NATS_URL: nats.url, KINDLING_CLUSTER_KEY_FILE: keyFile, ...over })

test('nodes announce their role, URL and tiers; a restarted node keeps its id', { skip }, async () => {
  const nodes: Kindling[] = []
  try {
    const a = await createKindling(configOf('a'))
    nodes.push(a)
    await a.listen()
    const b = await createKindling(configOf('b', { KINDLING_ROLE: 'gateway' }))
    nodes.push(b)
    await b.listen()
    await until(() => a.cluster!.membership.nodes().length === 2)
    const seen = a.cluster!.membership.nodes().find((n) => n.id === b.cluster!.id)!
    assert.equal(seen.role, 'gateway')
    assert.equal(seen.url, b.url)
    assert.deepEqual(seen.tiers, [])
    const self = b.cluster!.membership.nodes().find((n) => n.id === a.cluster!.id)!
    assert.equal(self.role, 'all')
    assert.ok(self.tiers.includes('wasm'))
    const id = a.cluster!.id
    await a.close()
    nodes.shift()
    const again = await createKindling(configOf('a'))
    nodes.push(again)
    assert.equal(again.cluster!.id, id)
  } finally {
    for (const n of nodes) await n.close()
  }
})

test('bad cluster settings stop the start with an error that says what to fix', { skip }, async () => {
  assert.throws(() => loadConfig({ KINDLING_ROLE: 'worker' }), /needs a cluster/)
  assert.throws(() => loadConfig({ KINDLING_ROLE: 'boss', KINDLING_NATS_URL: nats.url }), /must be gateway, worker or all/)
  await assert.rejects(createKindling(configOf('c', { KINDLING_CLUSTER_KEY_FILE: '' })), /KINDLING_CLUSTER_KEY_FILE/)
  const short = path.join(dir, 'short.key')
  fs.writeFileSync(short, 'abcd')
  await assert.rejects(createKindling(configOf('d', { KINDLING_CLUSTER_KEY_FILE: short })), /expected 32 bytes/)
  await assert.rejects(createKindling(configOf('e', { KINDLING_NATS_URL: 'nats://127.0.0.1:1', KINDLING_NATS_CONNECT_TIMEOUT_MS: '500' })), /nats:\/\/127\.0\.0\.1:1/)
})
