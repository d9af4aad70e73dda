// What the operator's store API (runtime/kv/routes.ts) needs beyond a function's KvStore: list the
// stores of a namespace with their size, open one only if it exists, and empty one. Asynchronous,
// unlike KvStore: the API runs on the gateway's event loop, which must not wait on JetStream. The
// single-node version reads the SQLite files of <data dir>/kv/<namespace>/<app>/<store>.sqlite; a
// cluster gateway's is kv-jetstream-admin.ts.
import Database from 'better-sqlite3'
import fs from 'node:fs'
import path from 'node:path'
import type { KvBackend, KvLimits, KvStore } from './kv-backend.js'
import { SqliteKvBackend } from './kv-sqlite.js'

export interface KvStoreInfo {
  app: string
  store: string
  /** keys plus values, expired entries not yet purged included */
  bytes: number
  /** live keys */
  keys: number
}

/** a KvStore whose operations answer with a promise */
export type KvAdminStore = { [K in keyof KvStore]: (...args: Parameters<KvStore[K]>) => Promise<ReturnType<KvStore[K]>> }

export interface KvAdmin {
  listStores(namespace: string): Promise<KvStoreInfo[]>
  /** the store when it exists or `create` (undefined: no function has opened it yet) */
  open(namespace: string, app: string, store: string, create?: boolean): Promise<KvAdminStore | undefined>
  /** removes every key of the store; false when there is no such store */
  clear(namespace: string, app: string, store: string): Promise<boolean>
  close(): void
}

/** a synchronous store behind the promise interface (its errors become rejections) */
function promised(s: KvStore): KvAdminStore {
  return {
    get: async (k) => s.get(k),
    set: async (k, v, ttlMs) => s.set(k, v, ttlMs),
    delete: async (k) => s.delete(k),
    listKeys: async (p, after, limit) => s.listKeys(p, after, limit),
    increment: async (k, d) => s.increment(k, d),
    compareAndSwap: async (k, e, v, ttlMs) => s.compareAndSwap(k, e, v, ttlMs),
  }
}

const SUFFIX = '.sqlite'

export class SqliteKvAdmin implements KvAdmin {
  private readonly backend: KvBackend
  constructor(
    private readonly dir: string,
    limits: KvLimits,
  ) {
    this.backend = new SqliteKvBackend(dir, limits)
  }

  private file(namespace: string, app: string, store: string): string | undefined {
    try {
      const f = SqliteKvBackend.fileOf(this.dir, namespace, app, store)
      return fs.existsSync(f) ? f : undefined
    } catch {
      return undefined
    }
  }

  async listStores(namespace: string): Promise<KvStoreInfo[]> {
    const out: KvStoreInfo[] = []
    const nsDir = path.join(this.dir, namespace)
    if (!fs.existsSync(nsDir)) return out
    for (const app of fs.readdirSync(nsDir).sort()) {
      const appDir = path.join(nsDir, app)
      if (!fs.statSync(appDir).isDirectory()) continue
      for (const f of fs.readdirSync(appDir).sort()) {
        if (!f.endsWith(SUFFIX)) continue
        const store = f.slice(0, -SUFFIX.length)
        if (!this.file(namespace, app, store)) continue
        const db = new Database(path.join(appDir, f), { readonly: true, fileMustExist: true })
        try {
          const bytes = (db.prepare('SELECT bytes FROM size WHERE id = 1').pluck().get() as number | undefined) ?? 0
          const keys = db.prepare('SELECT count(*) FROM kv WHERE expires IS NULL OR expires > ?').pluck().get(Date.now()) as number
          out.push({ app, store, bytes, keys })
        } finally {
          db.close()
        }
      }
    }
    return out
  }

  async open(namespace: string, app: string, store: string, create = false): Promise<KvAdminStore | undefined> {
    return create || this.file(namespace, app, store) ? promised(this.backend.open(namespace, app, store)) : undefined
  }

  async clear(namespace: string, app: string, store: string): Promise<boolean> {
    // the file stays: app hosts may hold it open, and a removed file would take their later writes
    const f = this.file(namespace, app, store)
    if (!f) return false
    const db = new Database(f, { fileMustExist: true })
    try {
      db.pragma('busy_timeout = 5000')
      db.exec('DELETE FROM kv')
    } finally {
      db.close()
    }
    return true
  }

  close(): void {
    this.backend.close()
  }
}
