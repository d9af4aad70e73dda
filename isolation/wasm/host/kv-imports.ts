// The kindling imports for key-value state and variables (issue 13, items 2 and 3), added to the
// `kindling` import module of every wasm module (isolation/wasm/runner.ts). All return an i32;
// a negative one is a KV_ERROR code (kv-backend.ts). Pointers and lengths are in the guest's memory.
//
//   kv_open(name_ptr, name_len) -> handle            a store granted by com.kindling.kv
//   kv_get(h, key_ptr, key_len, out_ptr, out_cap) -> value length (copies min(length, out_cap) bytes)
//   kv_set(h, key_ptr, key_len, val_ptr, val_len, ttl_ms: i64) -> 0      ttl_ms 0: no expiry
//   kv_delete(h, key_ptr, key_len) -> 1 deleted, 0 absent
//   kv_increment(h, key_ptr, key_len, delta: i64, out_ptr) -> 0, the new value as i64 LE at out_ptr
//   kv_cas(h, key_ptr, key_len, old_ptr, old_len, new_ptr, new_len, ttl_ms: i64) -> 1 swapped, 0 conflict
//        old_len -1: swap only when the key is absent
//   kv_list_keys(h, prefix_ptr, prefix_len, after_ptr, after_len, out_ptr, out_cap) -> bytes written
//        keys after `after` (after_len -1: from the first), each as u32 LE length + bytes, at most
//        KV_LIST_PAGE_KEYS; 0: no more keys
//   var_get(name_ptr, name_len, out_ptr, out_cap) -> value length    a variable granted by com.kindling.variables
import { KV_ERROR, KV_LIST_PAGE_KEYS, KvCallEnded, type KvBackend, type KvCallEnv, type KvLimits, type KvStore } from './kv-backend.js'
import { inBounds } from '../guest-memory.js'
import { JetStreamKvBackend } from './kv-jetstream.js'
import { SqliteKvBackend } from './kv-sqlite.js'

export const KV_IMPORT_NAMES: ReadonlySet<string> = new Set(['kv_open', 'kv_get', 'kv_set', 'kv_delete', 'kv_increment', 'kv_cas', 'kv_list_keys', 'var_get'])

/** What a plan carries for the kv imports: plain data, it travels to app hosts and workers. */
export interface KvPlan {
  /** <data dir>/kv */
  dir: string
  namespace: string
  app: string
  /** stores granted by com.kindling.kv, in order: kv_open returns the index */
  stores: string[]
  limits: KvLimits
  /** on a cluster node: the stores are in JetStream KV (kv-jetstream.ts), not in the data dir */
  cluster?: { natsUrl: string; timeoutMs: number }
}

/** One backend per process and data dir (or NATS URL): every function of the process shares its open files. */
const backends = new Map<string, KvBackend>()
export function backendFor(plan: KvPlan): KvBackend {
  const id = plan.cluster ? `nats ${plan.cluster.natsUrl}` : plan.dir
  let b = backends.get(id)
  if (!b) backends.set(id, (b = plan.cluster ? new JetStreamKvBackend(plan.cluster, plan.limits) : new SqliteKvBackend(plan.dir, plan.limits)))
  return b
}

type Ptr = number

/** The kv_* and var_get imports of one sandbox; `memory` gives the live instance's memory, `call` the running call's check. */
export function kvImports(kv: KvPlan | undefined, variables: Record<string, string | null> | undefined, memory: () => WebAssembly.Memory | undefined, call?: KvCallEnv): Record<string, (...args: never[]) => number> {
  const stores: (KvStore | undefined)[] = []
  const bytes = (): Uint8Array | undefined => {
    const m = memory()
    return m ? new Uint8Array(m.buffer) : undefined
  }
  /** a copy of guest bytes (the guest may change its memory while the backend holds them) */
  const read = (b: Uint8Array, ptr: Ptr, len: number) => Buffer.from(b.slice(ptr, ptr + len))
  const copyOut = (value: Buffer, outPtr: Ptr, outCap: number): number => {
    const b = bytes()!
    b.set(value.subarray(0, outCap), outPtr)
    return value.length
  }
  /** the store and key of a call, or a KV_ERROR */
  const storeKey = (h: number, keyPtr: Ptr, keyLen: number): { store: KvStore; key: Buffer; b: Uint8Array } | number => {
    const b = bytes()
    if (!b || !kv || !inBounds(b, keyPtr, keyLen)) return KV_ERROR.BAD_ARGUMENTS
    const store = stores[h]
    if (!store) return KV_ERROR.BAD_ARGUMENTS
    if (keyLen === 0 || keyLen > kv.limits.maxKeyBytes) return KV_ERROR.KEY_TOO_LARGE
    return { store, key: read(b, keyPtr, keyLen), b }
  }
  /** backend failures become IO for the guest, and a line on stderr for the operator (never the values) */
  const guarded = <A extends (number | bigint)[]>(f: (...a: A) => number) => (...a: A): number => {
    try {
      return f(...a)
    } catch (e) {
      // the call's deadline or a cancel ended a wait: the call ends, as any overrun does
      if (e instanceof KvCallEnded) throw e.reason
      process.stderr.write(`kindling kv: ${kv?.namespace}/${kv?.app}: ${(e as Error).message}\n`)
      return KV_ERROR.IO
    }
  }
  const ttl = (t: bigint | number) => Math.max(0, Number(t))

  return {
    kv_open: guarded((namePtr: Ptr, nameLen: number) => {
      const b = bytes()
      if (!b || !inBounds(b, namePtr, nameLen)) return KV_ERROR.BAD_ARGUMENTS
      const h = kv ? kv.stores.indexOf(read(b, namePtr, nameLen).toString('utf8')) : -1
      if (h < 0) return KV_ERROR.NOT_GRANTED
      stores[h] ??= backendFor(kv!).open(kv!.namespace, kv!.app, kv!.stores[h]!, call)
      return h
    }),
    kv_get: guarded((h: number, keyPtr: Ptr, keyLen: number, outPtr: Ptr, outCap: number) => {
      const sk = storeKey(h, keyPtr, keyLen)
      if (typeof sk === 'number') return sk
      if (!inBounds(sk.b, outPtr, outCap)) return KV_ERROR.BAD_ARGUMENTS
      const v = sk.store.get(sk.key)
      return v === undefined ? KV_ERROR.NOT_FOUND : copyOut(v, outPtr, outCap)
    }),
    kv_set: guarded((h: number, keyPtr: Ptr, keyLen: number, valPtr: Ptr, valLen: number, ttlMs: bigint) => {
      const sk = storeKey(h, keyPtr, keyLen)
      if (typeof sk === 'number') return sk
      if (!inBounds(sk.b, valPtr, valLen)) return KV_ERROR.BAD_ARGUMENTS
      if (valLen > kv!.limits.maxValueBytes) return KV_ERROR.VALUE_TOO_LARGE
      return sk.store.set(sk.key, read(sk.b, valPtr, valLen), ttl(ttlMs))
    }),
    kv_delete: guarded((h: number, keyPtr: Ptr, keyLen: number) => {
      const sk = storeKey(h, keyPtr, keyLen)
      if (typeof sk === 'number') return sk
      return sk.store.delete(sk.key) ? 1 : 0
    }),
    kv_increment: guarded((h: number, keyPtr: Ptr, keyLen: number, delta: bigint, outPtr: Ptr) => {
      const sk = storeKey(h, keyPtr, keyLen)
      if (typeof sk === 'number') return sk
      if (!inBounds(sk.b, outPtr, 8)) return KV_ERROR.BAD_ARGUMENTS
      const r = sk.store.increment(sk.key, BigInt(delta))
      if (typeof r === 'number') return r
      new DataView(memory()!.buffer).setBigInt64(outPtr, r, true)
      return 0
    }),
    kv_cas: guarded((h: number, keyPtr: Ptr, keyLen: number, oldPtr: Ptr, oldLen: number, newPtr: Ptr, newLen: number, ttlMs: bigint) => {
      const sk = storeKey(h, keyPtr, keyLen)
      if (typeof sk === 'number') return sk
      if ((oldLen !== -1 && !inBounds(sk.b, oldPtr, oldLen)) || !inBounds(sk.b, newPtr, newLen)) return KV_ERROR.BAD_ARGUMENTS
      if (newLen > kv!.limits.maxValueBytes) return KV_ERROR.VALUE_TOO_LARGE
      const expected = oldLen === -1 ? undefined : read(sk.b, oldPtr, oldLen)
      return sk.store.compareAndSwap(sk.key, expected, read(sk.b, newPtr, newLen), ttl(ttlMs))
    }),
    kv_list_keys: guarded((h: number, prefixPtr: Ptr, prefixLen: number, afterPtr: Ptr, afterLen: number, outPtr: Ptr, outCap: number) => {
      const b = bytes()
      const store = stores[h]
      if (!b || !kv || !store || !inBounds(b, prefixPtr, prefixLen) || (afterLen !== -1 && !inBounds(b, afterPtr, afterLen)) || !inBounds(b, outPtr, outCap)) return KV_ERROR.BAD_ARGUMENTS
      if (prefixLen > kv.limits.maxKeyBytes || afterLen > kv.limits.maxKeyBytes) return KV_ERROR.KEY_TOO_LARGE
      const keys = store.listKeys(read(b, prefixPtr, prefixLen), afterLen === -1 ? undefined : read(b, afterPtr, afterLen), KV_LIST_PAGE_KEYS)
      const view = new DataView(b.buffer)
      let at = 0
      for (const k of keys) {
        if (at + 4 + k.length > outCap) break
        view.setUint32(outPtr + at, k.length, true)
        b.set(k, outPtr + at + 4)
        at += 4 + k.length
      }
      return keys.length > 0 && at === 0 ? KV_ERROR.BUFFER_TOO_SMALL : at
    }),
    var_get: guarded((namePtr: Ptr, nameLen: number, outPtr: Ptr, outCap: number) => {
      const b = bytes()
      if (!b || !inBounds(b, namePtr, nameLen) || !inBounds(b, outPtr, outCap)) return KV_ERROR.BAD_ARGUMENTS
      const name = read(b, namePtr, nameLen).toString('utf8')
      if (!variables || !Object.hasOwn(variables, name)) return KV_ERROR.NOT_GRANTED
      const value = variables[name]
      return value === null || value === undefined ? KV_ERROR.NOT_FOUND : copyOut(Buffer.from(value, 'utf8'), outPtr, outCap)
    }),
  }
}
