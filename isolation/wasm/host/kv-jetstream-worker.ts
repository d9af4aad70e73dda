// The helper thread of the JetStream key-value backend (kv-jetstream.ts): holds the NATS connection
// and does each store operation while the sandbox thread waits (blocking-thread.ts).
//
// All stores live in one KV bucket, kindling_kv, under keys <namespace>.<app>.<store>.<key as
// base64url>: one stream to create, secure and back up; a store is a subject filter, which is how
// the index below follows it and how a store is purged (one filtered purge). Per-store buckets
// would mean one stream (one Raft group in a NATS cluster) per application store.
// Values are stored as 8 bytes of expiry (ms since the epoch, big-endian, 0: none) and the value:
// nats-server 2.9 has only bucket-wide TTLs, so an expired entry is treated as absent and deleted
// lazily (naming its revision, so a fresh write is never lost).
// Each opened store keeps an index of its keys (size, expiry, revision) fed by an ordered consumer:
// it gives the store's size (keys plus values, counted as the SQLite backend counts them, so the
// same KINDLING_KV_MAX_STORE_BYTES holds) and its key listing. Reads, compare-and-swap and
// increment go to the server and are exact; the index sees other nodes' writes a moment later, so a
// listing may miss a key another node wrote within milliseconds, and writers on several nodes at
// the same instant may pass the store limit by one value each.
import { jetstream, JetStreamApiError, type JetStreamClient, type JsMsg, DeliverPolicy } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import { connect, Empty, headers, type NatsConnection } from '@nats-io/transport-node'
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { KV_ERROR, type KvLimits } from './kv-backend.js'

export const KV_BUCKET = 'kindling_kv'
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
/** JetStream's "wrong last sequence": the key changed since the revision a write named */
const WRONG_LAST_SEQUENCE = [10071, 10164]
/** increments retried on conflicts before giving up (IO) */
const MAX_INCREMENT_TRIES = 1000

export interface KvStoreRef {
  namespace: string
  app: string
  store: string
  limits: KvLimits
}

export type KvTask =
  | { op: 'get'; s: KvStoreRef; key: Uint8Array }
  | { op: 'set'; s: KvStoreRef; key: Uint8Array; value: Uint8Array; ttlMs: number }
  | { op: 'delete'; s: KvStoreRef; key: Uint8Array }
  | { op: 'list'; s: KvStoreRef; prefix: Uint8Array; after: Uint8Array | undefined; limit: number }
  | { op: 'increment'; s: KvStoreRef; key: Uint8Array; delta: bigint }
  | { op: 'cas'; s: KvStoreRef; key: Uint8Array; expected: Uint8Array | undefined; value: Uint8Array; ttlMs: number }

export type KvReply = { ok: true; value: Uint8Array | Uint8Array[] | number | bigint | boolean | undefined } | { ok: false; message: string }

const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

/** value as stored: expiry then bytes */
function encode(value: Uint8Array, expires: number): Buffer {
  const out = Buffer.allocUnsafe(8 + value.length)
  out.writeBigUInt64BE(BigInt(expires), 0)
  out.set(value, 8)
  return out
}
export function decode(stored: Uint8Array): { value: Buffer; expires: number } {
  const b = buf(stored)
  if (b.length < 8) return { value: Buffer.alloc(0), expires: 0 }
  return { value: b.subarray(8), expires: Number(b.readBigUInt64BE(0)) }
}

/** the subject prefix of a store's keys, after $KV.kindling_kv. */
export function storePrefix(namespace: string, app: string, store: string): string {
  return `${namespace}.${app}.${store}`
}

/** what an entry counts towards its store's size: the key (token is its base64url) plus the value */
export function entrySize(token: string, value: Uint8Array): number {
  return Buffer.byteLength(token, 'base64url') + value.length
}

interface Indexed {
  /** key plus value bytes (0 for a delete this node made that the consumer has not seen yet) */
  size: number
  expires: number
  rev: number
  deleted?: boolean
}

/** One store's keys as this node knows them, fed by an ordered consumer on its subjects. */
class StoreIndex {
  readonly keys = new Map<string, Indexed>()
  bytes = 0
  readonly ready: Promise<void>

  constructor(js: JetStreamClient, readonly prefix: string) {
    this.ready = this.follow(js)
  }

  private async follow(js: JetStreamClient): Promise<void> {
    const consumer = await js.consumers.get(`KV_${KV_BUCKET}`, { filter_subjects: `$KV.${KV_BUCKET}.${this.prefix}.>`, deliver_policy: DeliverPolicy.LastPerSubject })
    const initial = (await consumer.info(true)).num_pending
    let seen = 0
    let caughtUp!: () => void
    const done = new Promise<void>((r) => (caughtUp = r))
    if (initial === 0) caughtUp()
    await consumer.consume({
      callback: (m: JsMsg) => {
        this.fromMessage(m)
        if (++seen >= initial) caughtUp()
      },
    })
    await done
  }

  private fromMessage(m: JsMsg): void {
    const k = m.subject.slice(`$KV.${KV_BUCKET}.${this.prefix}.`.length)
    const op = m.headers?.get('KV-Operation')
    if (op === 'DEL' || op === 'PURGE') return this.apply(k, m.seq, undefined, true)
    const { value, expires } = decode(m.data)
    this.apply(k, m.seq, { size: entrySize(k, value), expires }, true)
  }

  /** records a key's state at revision rev (from the consumer, or from this node's own write) */
  apply(k: string, rev: number, e: { size: number; expires: number } | undefined, fromConsumer: boolean): void {
    const old = this.keys.get(k)
    if (old && old.rev > rev) return
    if (old && old.rev === rev) {
      if (old.deleted && fromConsumer) this.keys.delete(k)
      return
    }
    this.bytes += (e?.size ?? 0) - (old?.size ?? 0)
    if (e) this.keys.set(k, { ...e, rev })
    else if (fromConsumer) this.keys.delete(k)
    else this.keys.set(k, { size: 0, expires: 0, rev, deleted: true })
  }
}

/** Does the store operations; the helper thread's, and the operator API's on a cluster gateway (kv-jetstream-admin.ts). */
export class Helper {
  private conn: Promise<{ nc: NatsConnection; kv: KV; js: JetStreamClient }> | undefined
  private readonly indexes = new Map<string, StoreIndex>()

  /** `nc`: a connection to use instead of one of its own to `servers` (the node's, owned by its caller) */
  constructor(
    private readonly servers: string[],
    private readonly nc?: NatsConnection,
  ) {}

  connection() {
    this.conn ??= (async () => {
      const nc = this.nc ?? (await connect({ servers: this.servers, name: 'kindling-kv', maxReconnectAttempts: -1, reconnectTimeWait: 250 }))
      const js = jetstream(nc)
      const kvm = new Kvm(js)
      // history 1: the current value is all a store needs
      const kv = await kvm.create(KV_BUCKET, { history: 1 }).catch(() => kvm.open(KV_BUCKET))
      return { nc, kv, js }
    })()
    // a failed start is tried again by the next call
    this.conn.catch(() => (this.conn = undefined))
    return this.conn
  }

  private async store(s: KvStoreRef) {
    const c = await this.connection()
    const prefix = storePrefix(s.namespace, s.app, s.store)
    let index = this.indexes.get(prefix)
    if (!index) {
      this.indexes.set(prefix, (index = new StoreIndex(c.js, prefix)))
      index.ready.catch(() => this.indexes.delete(prefix))
    }
    await index.ready
    return { ...c, index, prefix, limits: s.limits }
  }

  async run(t: KvTask): Promise<KvReply> {
    try {
      return { ok: true, value: await this.op(t) }
    } catch (e) {
      return { ok: false, message: (e as Error).message }
    }
  }

  private async op(t: KvTask): Promise<Extract<KvReply, { ok: true }>['value']> {
    const st = await this.store(t.s)
    const { kv, index, prefix, limits } = st
    const now = Date.now()
    if (t.op === 'list') return this.list(index, buf(t.prefix), t.after && buf(t.after), t.limit, now)
    const token = buf(t.key).toString('base64url')
    const k = `${prefix}.${token}`
    /** the live entry at k, or its revision when there is none (0: never written); `purge`: delete it when expired */
    const current = async (purge = false): Promise<{ value: Buffer; expires: number; rev: number } | { rev: number; gone: true; expired?: true }> => {
      const e = await kv.get(k)
      if (!e) return { rev: 0, gone: true }
      if (e.operation !== 'PUT') return { rev: e.revision, gone: true }
      const d = decode(e.value)
      if (d.expires !== 0 && d.expires <= Date.now()) {
        // lazily purged by reads (a write is about to replace it); naming the revision keeps a newer write
        if (purge) deleteKey(st.js, k, e.revision).catch(() => {})
        return { rev: e.revision, gone: true, expired: true }
      }
      return { ...d, rev: e.revision }
    }
    /** writes at revision rev (0: the key must be absent); the new revision, 'conflict' or a KV_ERROR */
    const write = async (value: Buffer, expires: number, rev: number): Promise<number | 'conflict'> => {
      const size = t.key.length + value.length
      const grow = size - (index.keys.get(token)?.size ?? 0)
      if (grow > 0 && index.bytes + grow > limits.maxStoreBytes) {
        await this.purgeExpired(st.js, index, prefix)
        if (index.bytes + size - (index.keys.get(token)?.size ?? 0) > limits.maxStoreBytes) return KV_ERROR.STORE_FULL
      }
      const data = encode(value, expires)
      // a message over the server's max_payload cannot be stored: refused as too large, not as a failure
      if (data.length + k.length + 256 > st.nc.info!.max_payload) return KV_ERROR.VALUE_TOO_LARGE
      let next: number
      try {
        next = rev === -1 ? await kv.put(k, data) : rev === 0 ? await kv.create(k, data) : await kv.update(k, data, rev)
      } catch (e) {
        if (rev !== -1 && isConflict(e)) return 'conflict'
        throw e
      }
      index.apply(token, next, { size, expires }, false)
      return next
    }
    const expiresOf = (ttlMs: number) => (ttlMs > 0 ? now + ttlMs : 0)
    switch (t.op) {
      case 'get': {
        const c = await current(true)
        return 'gone' in c ? undefined : c.value
      }
      case 'set': {
        const r = await write(buf(t.value), expiresOf(t.ttlMs), -1)
        return typeof r === 'number' && r < 0 ? r : 0
      }
      case 'delete': {
        const c = await current()
        // absent: nothing to write (an expired value is deleted, to free its room, but was not there)
        if ('gone' in c && !c.expired) return false
        index.apply(token, await deleteKey(st.js, k), undefined, false)
        return !('gone' in c)
      }
      case 'increment': {
        for (let i = 0; i < MAX_INCREMENT_TRIES; i++) {
          const c = await current()
          let n = 0n
          if (!('gone' in c)) {
            const text = c.value.toString('latin1')
            if (!/^-?\d{1,19}$/.test(text)) return KV_ERROR.NOT_A_NUMBER
            n = BigInt(text)
          }
          const next = n + t.delta
          if (next < INT64_MIN || next > INT64_MAX) return KV_ERROR.NOT_A_NUMBER
          const r = await write(Buffer.from(next.toString(), 'latin1'), 'gone' in c ? 0 : c.expires, c.rev)
          if (r === 'conflict') continue
          return r < 0 ? r : next
        }
        throw new Error(`increment of a key in ${prefix}: still conflicting after ${MAX_INCREMENT_TRIES} tries`)
      }
      case 'cas': {
        const c = await current()
        const same = t.expected === undefined ? 'gone' in c : !('gone' in c) && c.value.equals(t.expected)
        if (!same) return 0
        const r = await write(buf(t.value), expiresOf(t.ttlMs), c.rev)
        if (r === 'conflict') return 0
        return r < 0 ? r : 1
      }
    }
  }

  private list(index: StoreIndex, prefix: Buffer, after: Buffer | undefined, limit: number, now: number): Buffer[] {
    const out: Buffer[] = []
    for (const [token, e] of index.keys) {
      if (e.deleted || (e.expires !== 0 && e.expires <= now)) continue
      const key = Buffer.from(token, 'base64url')
      if (key.subarray(0, prefix.length).equals(prefix) && (!after || Buffer.compare(key, after) > 0)) out.push(key)
    }
    return out.sort(Buffer.compare).slice(0, limit)
  }

  /** deletes the store's expired entries (each naming its revision: a newer write stays) */
  private async purgeExpired(js: JetStreamClient, index: StoreIndex, prefix: string): Promise<void> {
    const now = Date.now()
    const expired = [...index.keys].filter(([, e]) => !e.deleted && e.expires !== 0 && e.expires <= now)
    await Promise.all(
      expired.map(async ([token, e]) => {
        try {
          index.apply(token, await deleteKey(js, `${prefix}.${token}`, e.rev), undefined, false)
        } catch (err) {
          if (!isConflict(err)) throw err
        }
      }),
    )
  }
}

/** writes a delete marker for key k (naming revision rev when given) and returns its revision */
export async function deleteKey(js: JetStreamClient, k: string, rev?: number): Promise<number> {
  const h = headers()
  h.set('KV-Operation', 'DEL')
  if (rev) h.set('Nats-Expected-Last-Subject-Sequence', String(rev))
  return (await js.publish(`$KV.${KV_BUCKET}.${k}`, Empty, { headers: h })).seq
}

export function isConflict(e: unknown): boolean {
  return e instanceof JetStreamApiError && WRONG_LAST_SEQUENCE.includes(e.code)
}

// the thread's side: answers each task on the reply port, then wakes the waiting thread
if (parentPort && (workerData as { kvServers?: string[] } | undefined)?.kvServers) {
  const { replies, kvServers } = workerData as { replies: MessagePort; kvServers: string[] }
  const helper = new Helper(kvServers)
  parentPort.on('message', (task: KvTask & { id: number; flag: Int32Array }) => {
    void helper.run(task).then((res) => {
      replies.postMessage({ id: task.id, res })
      Atomics.store(task.flag, 0, 1)
      Atomics.notify(task.flag, 0)
    })
  })
}
