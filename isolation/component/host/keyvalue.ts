// wasi:keyvalue@0.2.0-draft2 (store, atomics, batch) for components, over the same KvStore, grants
// (com.kindling.kv) and limits as the kindling kv_* imports of modules (isolation/wasm/host/kv-*.ts):
// a component opens only the stores of its application it is granted. draft2 is the version with
// compare-and-swap and string cursors (Spin's); the interface's error variant has only
// no-such-store, access-denied and other(string): a limit refused is other("<KINDLING_ERR_* code>: why").
import { KV_ERROR, KV_ERROR_NAMES, KV_LIST_PAGE_KEYS, type KvStore } from '../../wasm/host/kv-backend.js'
import { backendFor, type KvPlan } from '../../wasm/host/kv-imports.js'
import { fail, WitError } from './io.js'

export type KvError = { tag: 'no-such-store' } | { tag: 'access-denied' } | { tag: 'other'; val: string }

/** the kindling code of a KV_ERROR (README lists them) */
const codeOf = (code: number): string => (code === KV_ERROR.NOT_A_NUMBER ? 'KINDLING_ERR_KV_NOT_A_NUMBER' : (KV_ERROR_NAMES[code] ?? 'KINDLING_ERR_KV_IO'))
const other = (code: number | string, why: string): KvError => ({ tag: 'other', val: `${typeof code === 'number' ? codeOf(code) : code}: ${why}` })

/** A store granted to the component, as the guest holds it. */
export class Bucket {
  constructor(
    readonly store: KvStore,
    readonly plan: KvPlan,
    readonly name: string,
  ) {}

  get(key: string): Uint8Array | undefined {
    return guard(this, () => this.store.get(this.key(key)))
  }

  set(key: string, value: Uint8Array): void {
    guard(this, () => {
      const k = this.key(key)
      this.checkValue(value)
      const status = this.store.set(k, Buffer.from(value), 0)
      if (status < 0) fail(other(status, `the store ${this.name} is full (KINDLING_KV_MAX_STORE_BYTES ${this.plan.limits.maxStoreBytes})`))
    })
  }

  delete(key: string): void {
    guard(this, () => void this.store.delete(this.key(key)))
  }

  exists(key: string): boolean {
    return guard(this, () => this.store.get(this.key(key)) !== undefined)
  }

  /** a page of keys; the cursor is the last key of the page, absent after the last page */
  listKeys(cursor: string | undefined): { keys: string[]; cursor: string | undefined } {
    return guard(this, () => {
      const after = cursor === undefined ? undefined : this.key(cursor)
      const keys = this.store.listKeys(Buffer.alloc(0), after, KV_LIST_PAGE_KEYS).map((k) => k.toString('utf8'))
      return { keys, cursor: keys.length === KV_LIST_PAGE_KEYS ? keys[keys.length - 1] : undefined }
    })
  }

  /** the key as bytes, or other(KEY_TOO_LARGE) */
  key(key: string): Buffer {
    const k = Buffer.from(key, 'utf8')
    if (k.length === 0 || k.length > this.plan.limits.maxKeyBytes) fail(other(KV_ERROR.KEY_TOO_LARGE, `keys are 1 to ${this.plan.limits.maxKeyBytes} bytes (KINDLING_KV_MAX_KEY_BYTES), this one is ${k.length}`))
    return k
  }

  checkValue(value: Uint8Array): void {
    if (value.length > this.plan.limits.maxValueBytes) fail(other(KV_ERROR.VALUE_TOO_LARGE, `values are at most ${this.plan.limits.maxValueBytes} bytes (KINDLING_KV_MAX_VALUE_BYTES), this one is ${value.length}`))
  }
}

/** Backend failures become other(KINDLING_ERR_KV_IO) for the guest and a line on stderr for the operator (never the values). */
function guard<T>(b: Bucket, f: () => T): T {
  try {
    return f()
  } catch (e) {
    if (e instanceof WitError) throw e
    process.stderr.write(`kindling kv: ${b.plan.namespace}/${b.plan.app}/${b.name}: ${(e as Error).message}\n`)
    return fail(other('KINDLING_ERR_KV_IO', 'the store failed; the gateway log has the details'))
  }
}

/** A compare-and-swap handle: the value of the key when it was made. */
export class Cas {
  constructor(
    readonly bucket: Bucket,
    readonly key: Buffer,
    readonly seen: Buffer | undefined,
  ) {}

  static new(bucket: Bucket, key: string): Cas {
    return guard(bucket, () => {
      const k = bucket.key(key)
      return new Cas(bucket, k, bucket.store.get(k))
    })
  }

  current(): Uint8Array | undefined {
    return this.seen
  }
}

/** The wasi:keyvalue imports of one sandbox; `kv` is undefined when the function is granted no store. */
export function keyvalueImports(kv: KvPlan | undefined): Record<string, Record<string, unknown>> {
  const opened = new Map<string, Bucket>()
  const open = (identifier: string): Bucket => {
    if (!kv || !kv.stores.includes(identifier)) return fail({ tag: 'access-denied' } satisfies KvError)
    let b = opened.get(identifier)
    if (!b) {
      const plan = kv
      b = new Bucket(guardOpen(plan, identifier), plan, identifier)
      opened.set(identifier, b)
    }
    return b
  }
  return {
    'wasi:keyvalue/store': { Bucket, open },
    'wasi:keyvalue/atomics': {
      Cas,
      increment: (bucket: Bucket, key: string, delta: bigint): bigint =>
        guard(bucket, () => {
          const r = bucket.store.increment(bucket.key(key), BigInt(delta))
          if (typeof r === 'number') fail(other(r, r === KV_ERROR.NOT_A_NUMBER ? 'the value is not a 64-bit decimal integer, or the sum overflows' : `the store ${bucket.name} is full`))
          return r as bigint
        }),
      swap: (cas: Cas, value: Uint8Array): void => {
        const b = cas.bucket
        try {
          b.checkValue(value)
          const r = guard(b, () => b.store.compareAndSwap(cas.key, cas.seen, Buffer.from(value), 0))
          if (r < 0) fail(other(r, `the store ${b.name} is full`))
          if (r === 0) fail({ tag: 'cas-failed', val: new Cas(b, cas.key, guard(b, () => b.store.get(cas.key))) })
        } catch (e) {
          if (e instanceof WitError && (e.payload as { tag: string }).tag !== 'cas-failed') fail({ tag: 'store-error', val: e.payload })
          throw e
        }
      },
    },
    'wasi:keyvalue/batch': {
      getMany: (bucket: Bucket, keys: string[]): ([string, Uint8Array] | undefined)[] =>
        keys.map((key) => {
          const v = bucket.get(key)
          return v === undefined ? undefined : [key, v]
        }),
      setMany: (bucket: Bucket, pairs: [string, Uint8Array][]): void => {
        for (const [k, v] of pairs) bucket.set(k, v)
      },
      deleteMany: (bucket: Bucket, keys: string[]): void => {
        for (const k of keys) bucket.delete(k)
      },
    },
  }
}

function guardOpen(plan: KvPlan, store: string): KvStore {
  try {
    return backendFor(plan).open(plan.namespace, plan.app, store)
  } catch (e) {
    process.stderr.write(`kindling kv: ${plan.namespace}/${plan.app}/${store}: ${(e as Error).message}\n`)
    return fail(other('KINDLING_ERR_KV_IO', 'the store could not be opened; the gateway log has the details'))
  }
}
