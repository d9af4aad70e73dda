// /system/kv on a cluster gateway (issue 13 item 2): the stores are in JetStream KV, where the
// functions on the workers keep them, not in the gateway's data dir. A worker and a gateway on a
// real nats-server: a function (functions/dist/kv-counter.wasm) writes on the worker; the
// gateway's operator API lists the store, its keys and values, puts, deletes and clears, and the
// function then sees the operator's writes.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'

const skip = natsServerUnavailable()
let nats: NatsServer
let dir: string
let worker: TestKindling
let gw: TestKindling

const until = async (cond: () => Promise<boolean> | boolean, what: string, ms = 30_000) => {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not in time: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

before(async () => {
  if (skip) return
  nats = await startNatsServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-cluster-kvadmin-'))
  const keyFile = path.join(dir, 'cluster.key')
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'))
  // a short wait for JetStream: the outage test below waits for it once per request
  const node = (name: string, role: string) => startKindling({ natsUrl: nats.url, clusterKeyFile: keyFile, role, kvClusterTimeoutMs: 1_000 }, { dataDir: path.join(dir, name) })
  worker = await node('w1', 'worker')
  gw = await node('gw', 'gateway')
  for (const k of [worker, gw]) await k.listen()
  await gw.deploy('counter', exampleModule('kv-counter'), { annotations: { 'com.kindling.kv': 'counter' } })
  await until(() => !!worker.dispatcher.get('counter', 'openfaas-fn')?.pool && gw.cluster!.membership.workers().length === 1, 'the worker runs the function')
})
after(async () => {
  for (const k of [gw, worker]) await k?.cleanup().catch(() => {})
  await nats?.stop()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** a call of the function (on the worker, through the gateway): its answer, trimmed */
const fn = async (body: string) => {
  const res = await fetch(`${gw.url}/function/counter`, { method: 'POST', body })
  const text = await res.text()
  assert.equal(res.status, 200, text)
  return text.trim()
}
const api = (p: string, init: RequestInit = {}) => fetch(`${gw.url}/system/kv${p}`, { ...init, headers: { ...gw.auth, ...(init.headers as Record<string, string> | undefined) } })
const stores = async () => {
  const r = await api('/stores')
  assert.equal(r.status, 200)
  return (await r.json()) as { app: string; store: string; bytes: number; keys: number }[]
}
const keys = async (q = '') => ((await (await api(`/stores/counter/counter/keys${q}`)).json()) as { keys: string[] }).keys

test('the gateway of a cluster lists, reads, writes and clears the stores functions keep in JetStream', { skip }, async () => {
  // the function writes on the worker
  assert.equal(await fn('set counter greeting hello'), 'ok')
  assert.equal(await fn('set counter a/1 one'), 'ok')
  assert.equal(await fn(''), '1')
  assert.equal(await fn(''), '2')

  assert.deepEqual(await stores(), [{ app: 'counter', store: 'counter', keys: 3, bytes: 'greeting'.length + 5 + 'a/1'.length + 3 + 'count'.length + 1 }])
  assert.deepEqual(await keys(), ['a/1', 'count', 'greeting'])
  assert.deepEqual(await keys('?prefix=a/'), ['a/1'])
  const got = await api('/stores/counter/counter/keys/greeting')
  assert.equal(got.status, 200)
  assert.equal(await got.text(), 'hello')
  const unknown = await api('/stores/counter/nope/keys')
  assert.equal(unknown.status, 404)
  assert.equal(((await unknown.json()) as { code: string }).code, 'KINDLING_ERR_KV_STORE_NOT_FOUND')

  // the operator writes: the function sees it at once (reads go to the server)
  assert.equal((await api('/stores/counter/counter/keys/count', { method: 'PUT', body: '100' })).status, 204)
  assert.equal(await fn(''), '101')
  assert.equal((await api('/stores/counter/counter/keys/from-op', { method: 'PUT', body: 'seeded' })).status, 204)
  assert.equal(await fn('get counter from-op'), 'seeded')
  assert.equal((await api('/stores/counter/counter/keys/greeting', { method: 'DELETE' })).status, 204)
  assert.equal(await fn('get counter greeting'), 'error KINDLING_ERR_KV_NOT_FOUND (-2)')
  assert.equal((await api('/stores/counter/counter/keys/greeting', { method: 'DELETE' })).status, 404)
  // the function's own listing follows the operator's writes (its index trails them by a moment)
  await until(async () => (await fn('list counter')) === 'a/1\ncount\nfrom-op', "the function's listing")
  await until(async () => (await keys()).join() === 'a/1,count,from-op', "the operator's listing")

  // a store the operator seeds before any function opened it
  assert.equal((await api('/stores/other/notes/keys/k', { method: 'PUT', body: 'v' })).status, 204)
  assert.deepEqual((await stores()).map((s) => [s.app, s.store, s.keys]), [['counter', 'counter', 3], ['other', 'notes', 1]])

  // emptied: listed with no keys; the function finds nothing and counts from 0 again
  assert.equal((await api('/stores/counter/counter', { method: 'DELETE' })).status, 204)
  assert.deepEqual((await stores()).map((s) => [s.app, s.store, s.keys, s.bytes]), [['counter', 'counter', 0, 0], ['other', 'notes', 1, 2]])
  assert.equal(await fn('get counter a/1'), 'error KINDLING_ERR_KV_NOT_FOUND (-2)')
  assert.equal(await fn(''), '1')
  await until(async () => (await fn('list counter')) === 'count', "the function's listing after the clear")
  assert.equal((await api('/stores/counter/nope', { method: 'DELETE' })).status, 404)

  // nothing went to the gateway's (or the worker's) own files
  for (const n of ['gw', 'w1']) assert.equal(fs.existsSync(path.join(dir, n, 'kv')), false, n)
})

test('without NATS the API answers 503 with a code instead of hanging, and works again when NATS is back', { skip }, async () => {
  await nats.kill9()
  const r = await api('/stores')
  assert.equal(r.status, 503)
  assert.equal(((await r.json()) as { code: string }).code, 'KINDLING_ERR_CLUSTER_UNAVAILABLE')
  const key = await api('/stores/other/notes/keys/k')
  assert.equal(key.status, 503)
  await nats.start()
  await until(async () => (await api('/stores')).status === 200, 'the API after NATS came back')
  assert.equal(await (await api('/stores/other/notes/keys/k')).text(), 'v')
})
