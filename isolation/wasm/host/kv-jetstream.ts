// The cluster's KvBackend: the stores are in JetStream KV (kv-jetstream-worker.ts says how), so every
// worker of a cluster sees the same state. The KvStore interface is synchronous (a wasm guest calls
// it synchronously), so each operation is done by a helper thread while this thread waits
// (blocking-thread.ts). A wait ends with an error (KV_ERROR.IO for the guest) after timeoutMs, and
// at once when the call's deadline passes or the call is cancelled (the call ends as any overrun).
// The NATS URL (and any credentials in it) stays in the host: the guest only ever sees its own keys
// and values.
import { siblingModule } from '../../entry.js'
import { BlockingThread } from './blocking-thread.js'
import { KvCallEnded, type KvBackend, type KvCallEnv, type KvLimits, type KvStore } from './kv-backend.js'
import type { KvReply, KvStoreRef, KvTask } from './kv-jetstream-worker.js'

/** what a helper whose module did not load does: fails every operation, never leaves a call waiting */
const LOAD_FAILED = `(e) => {
  const { parentPort, workerData } = require('node:worker_threads')
  parentPort.on('message', (t) => {
    workerData.replies.postMessage({ id: t.id, res: { ok: false, message: 'the key-value helper thread did not start: ' + e.message } })
    Atomics.store(t.flag, 0, 1)
    Atomics.notify(t.flag, 0)
  })
}`

/** one helper thread per thread and NATS URL, started on the first operation */
const helpers = new Map<string, BlockingThread<KvTask, KvReply>>()

export interface JetStreamKvOptions {
  /** KINDLING_NATS_URL: comma-separated nats:// URLs */
  natsUrl: string
  /** longest wait for one operation before it fails with KV_ERROR.IO */
  timeoutMs: number
}

class JetStreamKvStore implements KvStore {
  private readonly ref: KvStoreRef
  constructor(
    private readonly opts: JetStreamKvOptions,
    namespace: string,
    app: string,
    store: string,
    limits: KvLimits,
    private readonly call: KvCallEnv | undefined,
  ) {
    this.ref = { namespace, app, store, limits }
  }

  private run(task: KvTask): Extract<KvReply, { ok: true }>['value'] {
    let h = helpers.get(this.opts.natsUrl)
    if (!h?.alive) helpers.set(this.opts.natsUrl, (h = new BlockingThread<KvTask, KvReply>(siblingModule(import.meta.url, 'kv-jetstream-worker'), LOAD_FAILED, { kvServers: this.opts.natsUrl.split(',').map((u) => u.trim()).filter(Boolean) })))
    const check = () => {
      try {
        this.call?.check()
      } catch (e) {
        throw new KvCallEnded(e)
      }
    }
    const res = h.call(task, check, Date.now() + this.opts.timeoutMs)
    if (!res) throw new Error(`JetStream KV did not answer within ${this.opts.timeoutMs} ms (KINDLING_KV_CLUSTER_TIMEOUT_MS)`)
    if (!res.ok) throw new Error(`JetStream KV: ${res.message}`)
    return res.value
  }

  get(key: Buffer): Buffer | undefined {
    const v = this.run({ op: 'get', s: this.ref, key }) as Uint8Array | undefined
    return v && Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  }
  set(key: Buffer, value: Buffer, ttlMs: number): number {
    return this.run({ op: 'set', s: this.ref, key, value, ttlMs }) as number
  }
  delete(key: Buffer): boolean {
    return this.run({ op: 'delete', s: this.ref, key }) as boolean
  }
  listKeys(prefix: Buffer, after: Buffer | undefined, limit: number): Buffer[] {
    return (this.run({ op: 'list', s: this.ref, prefix, after, limit }) as Uint8Array[]).map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength))
  }
  increment(key: Buffer, delta: bigint): bigint | number {
    return this.run({ op: 'increment', s: this.ref, key, delta }) as bigint | number
  }
  compareAndSwap(key: Buffer, expected: Buffer | undefined, value: Buffer, ttlMs: number): number {
    return this.run({ op: 'cas', s: this.ref, key, expected, value, ttlMs }) as number
  }
}

export class JetStreamKvBackend implements KvBackend {
  constructor(
    private readonly opts: JetStreamKvOptions,
    private readonly limits: KvLimits,
  ) {}

  open(namespace: string, app: string, store: string, call?: KvCallEnv): KvStore {
    return new JetStreamKvStore(this.opts, namespace, app, store, this.limits, call)
  }

  /** the helper threads are unref'd and shared by every store of the thread: nothing to close */
  close(): void {}
}
