// The key-value state functions keep between calls (issue 13, item 2), as an interface: one node
// backs it with SQLite files in the data dir (kv-sqlite.ts); a cluster node backs it with JetStream
// KV (kv-jetstream.ts). The interface is synchronous because a wasm guest calls it synchronously:
// the JetStream backend sits behind a helper thread the sandbox waits on.

/** Codes the kindling kv_* and var_get imports return to the guest (negative i32). */
export const KV_ERROR = {
  /** the store (or variable) is not granted to this function (com.kindling.kv / com.kindling.variables) */
  NOT_GRANTED: -1,
  /** no such key (or it expired), or the variable has no value */
  NOT_FOUND: -2,
  /** a pointer or length outside the guest's memory, or an unknown store handle */
  BAD_ARGUMENTS: -3,
  /** the key is longer than KINDLING_KV_MAX_KEY_BYTES (or empty) */
  KEY_TOO_LARGE: -4,
  /** the value is longer than KINDLING_KV_MAX_VALUE_BYTES */
  VALUE_TOO_LARGE: -5,
  /** the write would take the store past KINDLING_KV_MAX_STORE_BYTES */
  STORE_FULL: -6,
  /** increment on a value that is not a 64-bit decimal integer, or that would overflow */
  NOT_A_NUMBER: -7,
  /** the output buffer cannot hold even one listed key */
  BUFFER_TOO_SMALL: -8,
  /** the backend failed (disk full, a corrupt file); the gateway's stderr has the details */
  IO: -9,
} as const

/** The kindling error code that goes with each guest code (README lists both). */
export const KV_ERROR_NAMES: Record<number, string> = {
  [KV_ERROR.NOT_GRANTED]: 'KINDLING_ERR_KV_NOT_GRANTED',
  [KV_ERROR.NOT_FOUND]: 'KINDLING_ERR_KV_NOT_FOUND',
  [KV_ERROR.KEY_TOO_LARGE]: 'KINDLING_ERR_KV_KEY_TOO_LARGE',
  [KV_ERROR.VALUE_TOO_LARGE]: 'KINDLING_ERR_KV_VALUE_TOO_LARGE',
  [KV_ERROR.STORE_FULL]: 'KINDLING_ERR_KV_STORE_FULL',
}

/** most keys one kv_list_keys call returns */
export const KV_LIST_PAGE_KEYS = 100

export interface KvLimits {
  maxKeyBytes: number
  maxValueBytes: number
  /** keys plus values of live and not yet purged expired entries */
  maxStoreBytes: number
}

/** One application's named store. Keys and values are bytes; times are Date.now() milliseconds. */
export interface KvStore {
  get(key: Buffer): Buffer | undefined
  /** ttlMs 0: no expiry. Returns 0 or STORE_FULL. */
  set(key: Buffer, value: Buffer, ttlMs: number): number
  /** true when the key was there */
  delete(key: Buffer): boolean
  /** keys starting with prefix, in byte order, after `after` when given, at most `limit` */
  listKeys(prefix: Buffer, after: Buffer | undefined, limit: number): Buffer[]
  /** adds delta to the decimal integer stored at key (absent: 0); the new value, or NOT_A_NUMBER / STORE_FULL */
  increment(key: Buffer, delta: bigint): bigint | number
  /** sets key to value when it holds `expected` (undefined: when it is absent); 1 swapped, 0 conflict, or STORE_FULL */
  compareAndSwap(key: Buffer, expected: Buffer | undefined, value: Buffer, ttlMs: number): number
}

/** The running call, for a backend that waits: `check` throws when the call must end (deadline, cancel). */
export interface KvCallEnv {
  check(): void
}

/** Thrown by a backend whose wait the call's check ended: the import passes `reason` on, ending the call. */
export class KvCallEnded extends Error {
  constructor(readonly reason: unknown) {
    super('the call ended while a key-value operation waited')
  }
}

export interface KvBackend {
  /** the store `store` of application `app` in `namespace` (made when first opened); `call` is the sandbox's */
  open(namespace: string, app: string, store: string, call?: KvCallEnv): KvStore
  close(): void
}

/** Store names: what com.kindling.kv may list (they name files, so a strict alphabet). */
export const KV_STORE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/
