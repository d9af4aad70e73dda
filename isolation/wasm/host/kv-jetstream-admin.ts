// The operator's store API (runtime/kv/routes.ts) on a cluster gateway: the stores are in JetStream
// KV, where the functions' JetStream backend keeps them (kv-jetstream-worker.ts has the bucket, key
// layout and value format, used from there). It runs on the gateway's event loop over the node's
// own NATS connection, so nothing waits: each operation is a promise, bounded by timeoutMs.
// A store exists once any of its keys was written (a deleted key leaves its delete marker behind,
// so an emptied store stays listed with no keys, as a SQLite file does).
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { KindlingError } from '../../errors.js'
import type { KvAdmin, KvAdminStore, KvStoreInfo } from './kv-admin.js'
import type { KvLimits } from './kv-backend.js'
import { decode, deleteKey, entrySize, Helper, isConflict, KV_BUCKET, type KvTask, storePrefix } from './kv-jetstream-worker.js'

const SUBJECTS = `$KV.${KV_BUCKET}.`

export interface JetStreamKvAdminOptions {
  /** KINDLING_KV_CLUSTER_TIMEOUT_MS: longest wait for one operation */
  timeoutMs: number
}

/** one entry as a scan sees it: its subject after $KV.kindling_kv., its revision, and its value unless deleted */
interface Scanned {
  subject: string
  rev: number
  entry?: { value: Buffer; expires: number }
}

export class JetStreamKvAdmin implements KvAdmin {
  private readonly helper: Helper
  /** stores seen to exist: a store never stops existing (its delete markers stay), so one look each */
  private readonly known = new Set<string>()

  /** `nc` is the node's connection (runtime/cluster/connect.ts): its owner closes it */
  constructor(
    nc: NatsConnection,
    private readonly limits: KvLimits,
    private readonly opts: JetStreamKvAdminOptions,
  ) {
    this.helper = new Helper([], nc)
  }

  async listStores(namespace: string): Promise<KvStoreInfo[]> {
    const stores = new Map<string, KvStoreInfo>()
    const now = Date.now()
    for (const e of await this.timed(this.scan(`${namespace}.>`))) {
      const [, app, store, token] = e.subject.split('.')
      if (!app || !store || !token) continue
      const id = `${app}.${store}`
      let info = stores.get(id)
      if (!info) stores.set(id, (info = { app, store, bytes: 0, keys: 0 }))
      if (!e.entry) continue
      info.bytes += entrySize(token, e.entry.value)
      if (e.entry.expires === 0 || e.entry.expires > now) info.keys++
    }
    return [...stores.values()].sort((a, b) => (a.app === b.app ? cmp(a.store, b.store) : cmp(a.app, b.app)))
  }

  async open(namespace: string, app: string, store: string, create = false): Promise<KvAdminStore | undefined> {
    if (!create && !(await this.timed(this.exists(storePrefix(namespace, app, store))))) return undefined
    const s = { namespace, app, store, limits: this.limits }
    const run = async (task: KvTask) => {
      const res = await this.timed(this.helper.run(task))
      if (!res.ok) throw unavailable(res.message)
      return res.value
    }
    return {
      get: async (key) => {
        const v = (await run({ op: 'get', s, key })) as Uint8Array | undefined
        return v && Buffer.from(v.buffer, v.byteOffset, v.byteLength)
      },
      set: async (key, value, ttlMs) => (await run({ op: 'set', s, key, value, ttlMs })) as number,
      delete: async (key) => (await run({ op: 'delete', s, key })) as boolean,
      listKeys: async (prefix, after, limit) => ((await run({ op: 'list', s, prefix, after, limit })) as Uint8Array[]).map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength)),
      increment: async (key, delta) => (await run({ op: 'increment', s, key, delta })) as bigint | number,
      compareAndSwap: async (key, expected, value, ttlMs) => (await run({ op: 'cas', s, key, expected, value, ttlMs })) as number,
    }
  }

  async clear(namespace: string, app: string, store: string): Promise<boolean> {
    const prefix = storePrefix(namespace, app, store)
    return this.timed(
      (async () => {
        const entries = await this.scan(`${prefix}.>`)
        if (entries.length === 0) return false
        const { js } = await this.helper.connection()
        // a delete marker per key (not a stream purge): the workers' indexes follow the markers.
        // Each names the revision it saw, so a write made since the scan stays.
        await Promise.all(
          entries
            .filter((e) => e.entry)
            .map((e) =>
              deleteKey(js, e.subject, e.rev).catch((err: unknown) => {
                if (!isConflict(err)) throw err
              }),
            ),
        )
        return true
      })(),
    )
  }

  /** the consumers it made are ephemeral and end with the node's connection */
  close(): void {}

  /** whether any key of the store (prefix) was ever written */
  private async exists(prefix: string): Promise<boolean> {
    if (this.known.has(prefix)) return true
    const { js } = await this.helper.connection()
    const consumer = await js.consumers.get(`KV_${KV_BUCKET}`, { filter_subjects: `${SUBJECTS}${prefix}.>`, deliver_policy: DeliverPolicy.LastPerSubject })
    const n = (await consumer.info(true)).num_pending
    await consumer.delete().catch(() => {})
    if (n > 0) this.known.add(prefix)
    return n > 0
  }

  /** the current entry of every key under filter (a subject pattern after $KV.kindling_kv.) */
  private async scan(filter: string): Promise<Scanned[]> {
    const { js } = await this.helper.connection()
    return scanLastPerSubject(js, `${SUBJECTS}${filter}`)
  }

  private async timed<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(`no answer within ${this.opts.timeoutMs} ms (KINDLING_KV_CLUSTER_TIMEOUT_MS)`)), this.opts.timeoutMs)
    })
    try {
      return await Promise.race([p, late])
    } catch (e) {
      throw e instanceof KindlingError ? e : unavailable((e as Error).message)
    } finally {
      clearTimeout(timer)
    }
  }
}

async function scanLastPerSubject(js: JetStreamClient, filter: string): Promise<Scanned[]> {
  const consumer = await js.consumers.get(`KV_${KV_BUCKET}`, { filter_subjects: filter, deliver_policy: DeliverPolicy.LastPerSubject })
  const out: Scanned[] = []
  try {
    // the entries there when the consumer was made; later writes are not waited for
    const initial = (await consumer.info(true)).num_pending
    if (initial === 0) return out
    const messages = await consumer.consume()
    try {
      for await (const m of messages) {
        out.push(scanned(m))
        if (out.length >= initial) break
      }
    } finally {
      messages.stop()
    }
    return out
  } finally {
    await consumer.delete().catch(() => {})
  }
}

function scanned(m: JsMsg): Scanned {
  const subject = m.subject.slice(SUBJECTS.length)
  const op = m.headers?.get('KV-Operation')
  return op === 'DEL' || op === 'PURGE' ? { subject, rev: m.seq } : { subject, rev: m.seq, entry: decode(m.data) }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

const unavailable = (why: string) => new KindlingError('KINDLING_ERR_CLUSTER_UNAVAILABLE', `the key-value stores in JetStream (bucket ${KV_BUCKET}): ${why}`)
