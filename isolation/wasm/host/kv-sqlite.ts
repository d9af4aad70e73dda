// The single-node KvBackend: one SQLite file per application store, <data dir>/kv/<namespace>/<app>/<store>.sqlite,
// opened by whichever process runs the function (an app host, a worker, the gateway for inline).
// WAL with synchronous=NORMAL: a commit is in the WAL file before the call answers, so it survives
// kill -9 of any kindling process (a power cut may lose the last commits; FULL would fsync each).
// Several processes may open one file: SQLite's locks serialize writers (busy_timeout waits).
import Database from 'better-sqlite3'
import fs from 'node:fs'
import path from 'node:path'
import { KV_ERROR, KV_STORE_NAME, type KvBackend, type KvLimits, type KvStore } from './kv-backend.js'

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** The first byte string after every string that starts with prefix (undefined: there is none). */
function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++
      return end.subarray(0, i + 1)
    }
  }
  return undefined
}

class SqliteKvStore implements KvStore {
  private readonly q
  constructor(
    readonly db: Database.Database,
    private readonly limits: KvLimits,
  ) {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('busy_timeout = 5000')
    // bytes is kept exact by triggers, so every write path (purges too) counts toward the store limit
    db.exec(`
      CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, expires INTEGER) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS size (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
      INSERT OR IGNORE INTO size VALUES (1, 0);
      CREATE TRIGGER IF NOT EXISTS kv_ins AFTER INSERT ON kv BEGIN UPDATE size SET bytes = bytes + length(new.k) + length(new.v); END;
      CREATE TRIGGER IF NOT EXISTS kv_del AFTER DELETE ON kv BEGIN UPDATE size SET bytes = bytes - length(old.k) - length(old.v); END;
      CREATE TRIGGER IF NOT EXISTS kv_upd AFTER UPDATE ON kv BEGIN UPDATE size SET bytes = bytes - length(old.k) - length(old.v) + length(new.k) + length(new.v); END;
    `)
    this.q = {
      get: db.prepare('SELECT v, expires FROM kv WHERE k = ?'),
      put: db.prepare('INSERT INTO kv (k, v, expires) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires = excluded.expires'),
      del: db.prepare('DELETE FROM kv WHERE k = ?'),
      bytes: db.prepare('SELECT bytes FROM size WHERE id = 1').pluck(),
      purge: db.prepare('DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?'),
      listTo: db.prepare('SELECT k FROM kv WHERE k >= ? AND k < ? AND k > ? AND (expires IS NULL OR expires > ?) ORDER BY k LIMIT ?').pluck(),
      listOpen: db.prepare('SELECT k FROM kv WHERE k >= ? AND k > ? AND (expires IS NULL OR expires > ?) ORDER BY k LIMIT ?').pluck(),
    }
    this.tx = this.makeTx()
  }

  private live(key: Buffer, now: number): Buffer | undefined {
    const row = this.q.get.get(key) as { v: Buffer; expires: number | null } | undefined
    if (!row || (row.expires !== null && row.expires <= now)) return undefined
    return row.v
  }

  /** Writes inside a transaction after checking the size limit (purging expired entries once when near it). */
  private put(key: Buffer, value: Buffer, expires: number | null, now: number): number {
    const old = this.q.get.get(key) as { v: Buffer } | undefined
    const grow = () => key.length + value.length - (old ? key.length + old.v.length : 0)
    if ((this.q.bytes.get() as number) + grow() > this.limits.maxStoreBytes) {
      this.q.purge.run(now)
      const still = this.q.get.get(key) as { v: Buffer } | undefined
      const delta = key.length + value.length - (still ? key.length + still.v.length : 0)
      if ((this.q.bytes.get() as number) + delta > this.limits.maxStoreBytes) return KV_ERROR.STORE_FULL
    }
    this.q.put.run(key, value, expires)
    return 0
  }

  get(key: Buffer): Buffer | undefined {
    return this.live(key, Date.now())
  }

  // each write is one IMMEDIATE transaction (other processes may write the same file); the
  // transaction functions are made once: making one per call costs as much as the write
  private makeTx() {
    return {
      set: this.db.transaction((key: Buffer, value: Buffer, ttlMs: number, now: number) => this.put(key, value, ttlMs > 0 ? now + ttlMs : null, now)),
      delete: this.db.transaction((key: Buffer, now: number) => {
        const was = this.live(key, now) !== undefined
        this.q.del.run(key)
        return was
      }),
      increment: this.db.transaction((key: Buffer, delta: bigint, now: number): bigint | number => {
        const row = this.q.get.get(key) as { v: Buffer; expires: number | null } | undefined
        const live = row && (row.expires === null || row.expires > now) ? row : undefined
        let n = 0n
        if (live) {
          const text = live.v.toString('latin1')
          if (!/^-?\d{1,19}$/.test(text)) return KV_ERROR.NOT_A_NUMBER
          n = BigInt(text)
        }
        const next = n + delta
        if (next < INT64_MIN || next > INT64_MAX) return KV_ERROR.NOT_A_NUMBER
        const status = this.put(key, Buffer.from(next.toString(), 'latin1'), live?.expires ?? null, now)
        return status < 0 ? status : next
      }),
      cas: this.db.transaction((key: Buffer, expected: Buffer | undefined, value: Buffer, ttlMs: number, now: number) => {
        const current = this.live(key, now)
        const same = expected === undefined ? current === undefined : current !== undefined && current.equals(expected)
        if (!same) return 0
        const status = this.put(key, value, ttlMs > 0 ? now + ttlMs : null, now)
        return status < 0 ? status : 1
      }),
    }
  }

  private readonly tx: ReturnType<SqliteKvStore['makeTx']>

  set(key: Buffer, value: Buffer, ttlMs: number): number {
    return this.tx.set.immediate(key, value, ttlMs, Date.now())
  }

  delete(key: Buffer): boolean {
    return this.tx.delete.immediate(key, Date.now())
  }

  listKeys(prefix: Buffer, after: Buffer | undefined, limit: number): Buffer[] {
    const end = prefixEnd(prefix)
    const from = after ?? Buffer.alloc(0)
    const now = Date.now()
    // a blob compares greater than any text or number, so the empty blob is below every key
    return (end ? this.q.listTo.all(prefix, end, from, now, limit) : this.q.listOpen.all(prefix, from, now, limit)) as Buffer[]
  }

  increment(key: Buffer, delta: bigint): bigint | number {
    return this.tx.increment.immediate(key, delta, Date.now())
  }

  compareAndSwap(key: Buffer, expected: Buffer | undefined, value: Buffer, ttlMs: number): number {
    return this.tx.cas.immediate(key, expected, value, ttlMs, Date.now())
  }
}

/** Stores of this process, opened once each; `dir` is <data dir>/kv. */
export class SqliteKvBackend implements KvBackend {
  private readonly open_ = new Map<string, SqliteKvStore>()
  constructor(
    private readonly dir: string,
    private readonly limits: KvLimits,
  ) {}

  /** the file of one application store (names are validated: no path tricks) */
  static fileOf(dir: string, namespace: string, app: string, store: string): string {
    const name = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/
    if (!KV_STORE_NAME.test(store) || !name.test(app) || !name.test(namespace)) throw new Error(`bad store name ${namespace}/${app}/${store}`)
    return path.join(dir, namespace, app, `${store}.sqlite`)
  }

  open(namespace: string, app: string, store: string): KvStore {
    const file = SqliteKvBackend.fileOf(this.dir, namespace, app, store)
    let s = this.open_.get(file)
    if (!s) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
      const db = new Database(file)
      fs.chmodSync(file, 0o600)
      s = new SqliteKvStore(db, this.limits)
      this.open_.set(file, s)
    }
    return s
  }

  close(): void {
    for (const s of this.open_.values()) s.db.close()
    this.open_.clear()
  }
}
