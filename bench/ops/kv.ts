// A KV get and set through kindling's guest imports (kindling.kv_get / kv_set on the SQLite
// backend, guest memory in and out) against the same operation as a direct better-sqlite3 call
// (a prepared statement on a WAL file with the same pragmas), interleaved in rounds.
//   node --import tsx bench/ops/kv.ts [rounds=40]
// Each sample is the mean of a batch of 500 operations (a per-operation clock read would cost as
// much as a get). The imports are called from JS here, so the wasm-to-JS transition (tens of ns) is
// not in the kindling rows.
// JetStream rows (a cluster node's backend, when nats-server is installed): the same imports on a
// JetStream KV store of a local nats-server (helper thread + Atomics.wait), against the same get/put
// awaited with @nats-io/kv directly; each sample is one operation (they take a round trip).
import Database from 'better-sqlite3'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { kvImports, SqliteKvBackend } from '../../isolation/index.js'
import { jetstream } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import { natsServerUnavailable, startNatsServer } from '../../test/helpers/nats-server.js'
import { environmentLine, environmentRecord } from '../lib/env.js'
import { percentile } from '../lib/stats.js'

const rounds = Number(process.argv[2] ?? 40)
const BATCH = 500
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-kv-bench-'))
const limits = { maxKeyBytes: 1024, maxValueBytes: 1 << 20, maxStoreBytes: 64 << 20 }

// direct: one table, the pragmas kindling uses
const db = new Database(path.join(dir, 'direct.sqlite'))
db.pragma('journal_mode = WAL')
db.pragma('synchronous = NORMAL')
db.exec('CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, expires INTEGER) WITHOUT ROWID')
const put = db.prepare('INSERT INTO kv (k, v, expires) VALUES (?, ?, NULL) ON CONFLICT (k) DO UPDATE SET v = excluded.v')
const get = db.prepare('SELECT v FROM kv WHERE k = ?').pluck()

// kindling: the imports a guest calls, over a guest memory holding key, value and an output buffer
const memory = new WebAssembly.Memory({ initial: 1 })
const bytes = new Uint8Array(memory.buffer)
const KEY = 0, VAL = 64, OUT = 1024
bytes.set(Buffer.from('bench-key'), KEY)
bytes.set(Buffer.alloc(100, 7), VAL)
const plan = { dir: path.join(dir, 'kv'), namespace: 'openfaas-fn', app: 'bench', stores: ['s'], limits }
const imp = kvImports(plan, undefined, () => memory) as unknown as Record<string, (...a: (number | bigint)[]) => number>
const name = Buffer.from('s')
bytes.set(name, 2000)
const handle = imp.kv_open!(2000, 1)
if (handle < 0) throw new Error(`kv_open: ${handle}`)
const key = Buffer.from('bench-key')
const value = Buffer.alloc(100, 7)

const cases: Record<string, () => void> = {
  'direct better-sqlite3 get': () => void get.get(key),
  'kindling.kv_get': () => {
    if (imp.kv_get!(handle, KEY, 9, OUT, 4096) !== 100) throw new Error('kv_get')
  },
  'direct better-sqlite3 set': () => void put.run(key, value),
  'kindling.kv_set': () => {
    if (imp.kv_set!(handle, KEY, 9, VAL, 100, 0n) !== 0) throw new Error('kv_set')
  },
}
put.run(key, value)
imp.kv_set!(handle, KEY, 9, VAL, 100, 0n)
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((c) => [c, []]))
for (let r = 0; r < rounds + 5; r++) {
  for (const [c, f] of Object.entries(cases)) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < BATCH; i++) f()
    const us = Number(process.hrtime.bigint() - t0) / 1000 / BATCH
    if (r >= 5) samples[c]!.push(us)
  }
}

// JetStream: one operation per sample, interleaved, after a warm-up
const JS_OPS = rounds * 50
const jsSamples: Record<string, number[]> = {}
const natsMissing = natsServerUnavailable()
if (!natsMissing) {
  const nats = await startNatsServer()
  try {
    const jsImp = kvImports({ ...plan, app: 'bench-js', cluster: { natsUrl: nats.url, timeoutMs: 5_000 } }, undefined, () => memory) as unknown as Record<string, (...a: (number | bigint)[]) => number>
    const h = jsImp.kv_open!(2000, 1)
    const nc = await connect({ servers: nats.url })
    const direct = await new Kvm(jetstream(nc)).create('kindling_kv_bench', { history: 1 })
    const jsCases: Record<string, () => unknown> = {
      'direct @nats-io/kv get (await)': () => direct.get('bench-key'),
      'kindling.kv_get (JetStream)': () => {
        if (jsImp.kv_get!(h, KEY, 9, OUT, 4096) !== 100) throw new Error('kv_get')
      },
      'direct @nats-io/kv put (await)': () => direct.put('bench-key', value),
      'kindling.kv_set (JetStream)': () => {
        if (jsImp.kv_set!(h, KEY, 9, VAL, 100, 0n) !== 0) throw new Error('kv_set')
      },
    }
    for (const c of Object.keys(jsCases)) jsSamples[c] = []
    await direct.put('bench-key', value)
    if (jsImp.kv_set!(h, KEY, 9, VAL, 100, 0n) !== 0) throw new Error('kv_set')
    for (let i = 0; i < JS_OPS + 100; i++) {
      for (const [c, f] of Object.entries(jsCases)) {
        const t0 = process.hrtime.bigint()
        await f()
        if (i >= 100) jsSamples[c]!.push(Number(process.hrtime.bigint() - t0) / 1000)
      }
    }
    await nc.close()
  } finally {
    await nats.stop()
  }
}

console.log(environmentLine(environmentRecord(path.resolve(import.meta.dirname ?? ".", "..", ".."), "node --import tsx bench/ops/kv.ts")))
console.log(`| operation | p50 µs | p99 µs |  (mean of ${BATCH} ops per sample, ${rounds} samples)`)
console.log('|---|---|---|')
for (const [c, s] of Object.entries(samples)) console.log(`| ${c} | ${percentile(s, 50).toFixed(2)} | ${percentile(s, 99).toFixed(2)} |`)
if (natsMissing) console.log(`JetStream rows skipped: ${natsMissing}`)
else console.log(`| (JetStream: one operation per sample, ${JS_OPS} samples, local nats-server) | | |`)
for (const [c, s] of Object.entries(jsSamples)) console.log(`| ${c} | ${percentile(s, 50).toFixed(1)} | ${percentile(s, 99).toFixed(1)} |`)
db.close()
fs.rmSync(dir, { recursive: true, force: true })
