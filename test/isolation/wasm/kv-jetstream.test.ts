// The JetStream KvBackend against a real nats-server: the KvBackend contract (kv-contract.ts), two
// processes incrementing one counter, a limit the server imposes (max_payload), and an operation
// that fails with an error (KV_ERROR.IO for a guest) when NATS does not answer.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { KV_ERROR } from '../../../isolation/wasm/host/kv-backend.js'
import { JetStreamKvBackend } from '../../../isolation/wasm/host/kv-jetstream.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'
import { CONTRACT_LIMITS, kvContract } from './kv-contract.js'

const missing = natsServerUnavailable()

describe('JetStream key-value backend', { skip: missing }, () => {
  let nats: NatsServer
  let kv: JetStreamKvBackend
  before(async () => {
    nats = await startNatsServer()
    kv = new JetStreamKvBackend({ natsUrl: nats.url, timeoutMs: 5_000 }, CONTRACT_LIMITS)
  })
  after(async () => {
    kv?.close()
    await nats?.stop()
  })

  kvContract(() => kv, () => new JetStreamKvBackend({ natsUrl: nats.url, timeoutMs: 5_000 }, CONTRACT_LIMITS))

  it('two processes incrementing one counter 200 times each end at 400', async () => {
    const script = `
      import { JetStreamKvBackend } from ${JSON.stringify(new URL('../../../isolation/wasm/host/kv-jetstream.ts', import.meta.url).href)}
      const s = new JetStreamKvBackend({ natsUrl: process.argv[1], timeoutMs: 10000 }, { maxKeyBytes: 64, maxValueBytes: 256, maxStoreBytes: 1024 }).open('openfaas-fn', 'count', 'c')
      let last = 0n
      for (let i = 0; i < 200; i++) {
        const n = s.increment(Buffer.from('n'), 1n)
        if (typeof n !== 'bigint' || n <= last) throw new Error('increment gave ' + n + ' after ' + last)
        last = n
      }
    `
    const run = () =>
      new Promise<void>((resolve, reject) => {
        const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, nats.url], { stdio: ['ignore', 'ignore', 'pipe'] })
        let err = ''
        c.stderr!.on('data', (d) => (err += d))
        c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`incrementer exited with ${code}: ${err}`))))
      })
    await Promise.all([run(), run()])
    assert.deepEqual(kv.open('openfaas-fn', 'count', 'c').get(Buffer.from('n')), Buffer.from('400'))
  })

  it('refuses a value the server cannot carry (over its max_payload) as too large', () => {
    const big = new JetStreamKvBackend({ natsUrl: nats.url, timeoutMs: 5_000 }, { maxKeyBytes: 64, maxValueBytes: 4 << 20, maxStoreBytes: 64 << 20 })
    const s = big.open('openfaas-fn', 'shop', 'big')
    assert.equal(s.set(Buffer.from('v'), Buffer.alloc(2 << 20), 0), KV_ERROR.VALUE_TOO_LARGE)
    assert.equal(s.set(Buffer.from('v'), Buffer.alloc(64 << 10), 0), 0)
  })

  it('fails an operation with an error when NATS does not answer in time, and ends it at once when the call must end', async () => {
    const s = kv.open('openfaas-fn', 'shop', 'down')
    s.set(Buffer.from('k'), Buffer.from('v'), 0)
    await nats.kill9()
    try {
      const short = new JetStreamKvBackend({ natsUrl: nats.url, timeoutMs: 200 }, CONTRACT_LIMITS).open('openfaas-fn', 'shop', 'down')
      assert.throws(() => short.get(Buffer.from('k')), /did not answer within 200 ms|JetStream KV/)
      const ended = new Error('deadline')
      const cancelled = new JetStreamKvBackend({ natsUrl: nats.url, timeoutMs: 60_000 }, CONTRACT_LIMITS).open('openfaas-fn', 'shop', 'down', {
        check: () => {
          throw ended
        },
      })
      assert.throws(() => cancelled.get(Buffer.from('k')), (e: unknown) => (e as { reason?: unknown }).reason === ended)
    } finally {
      await nats.start()
    }
    // the connection comes back with the server
    for (let i = 0; i < 100; i++) {
      try {
        if (s.get(Buffer.from('k'))?.toString() === 'v') return
      } catch {}
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.fail('the store did not come back after the server restarted')
  })
})
