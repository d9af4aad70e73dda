// The SQLite database in the data dir: function specs, artifact metadata, secrets and the async
// queue. WAL mode: a committed transaction survives kill -9 of the gateway.
import Database from 'better-sqlite3'
import fs from 'node:fs'
import path from 'node:path'
import { mkdirPrivate, PRIVATE_FILE_MODE } from './private.js'
import { attachStorage, Storage } from './storage.js'

export type Db = Database.Database

/** Schema changes, applied in order; PRAGMA user_version records how many have run. */
const MIGRATIONS: string[] = [
  `CREATE TABLE functions (
     namespace TEXT NOT NULL,
     name TEXT NOT NULL,
     deployment TEXT NOT NULL,
     version TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     replicas INTEGER,
     PRIMARY KEY (namespace, name)
   );
   CREATE TABLE artifacts (
     digest TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     format TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE secrets (
     namespace TEXT NOT NULL,
     name TEXT NOT NULL,
     value BLOB NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (namespace, name)
   );`,
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // 1 once the value is sealed (registry/seal.ts); rows of an older kindling are sealed at start
  `ALTER TABLE secrets ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;`,
]

export function getMeta(db: Db, key: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
}

export function openDatabase(dataDir: string, storage = new Storage(dataDir)): Db {
  mkdirPrivate(dataDir)
  const file = path.join(dataDir, 'kindling.db')
  // SQLite gives the -wal and -shm files the mode of the database file: 0600 for all three
  fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE))
  // a kindling that just stopped (even kill -9) has released its lock: no need to wait long
  const db = new Database(file, { timeout: 1000 })
  attachStorage(db, storage)
  // one gateway per data dir; and the WAL index lives in memory instead of a -shm file, which
  // could not be created on a full disk (then not even reads would work)
  db.pragma('locking_mode = EXCLUSIVE')
  try {
    db.pragma('journal_mode = WAL')
    // takes the lock now (exclusive mode keeps it until close), so a second gateway fails here
    db.exec('BEGIN IMMEDIATE; COMMIT')
  } catch (e) {
    db.close()
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e
    throw new Error(`the data dir ${dataDir} is in use by another kindling (its database is locked); stop that one or set another KINDLING_DATA_DIR`, { cause: e })
  }
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  // a deleted row's cells are zeroed when that costs no extra I/O (queued bodies, old secrets)
  db.pragma('secure_delete = FAST')
  migrate(db)
  return db
}

/** Adds migrations from other modules (the async queue) without a central list of tables. */
export function migrate(db: Db, extra: { name: string; sql: string }[] = []): void {
  const version = db.pragma('user_version', { simple: true }) as number
  const apply = db.transaction(() => {
    for (let i = version; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!)
    db.pragma(`user_version = ${MIGRATIONS.length}`)
  })
  if (version < MIGRATIONS.length) apply()
  if (extra.length) {
    db.exec('CREATE TABLE IF NOT EXISTS applied_migrations (name TEXT PRIMARY KEY)')
    for (const m of extra) {
      const done = db.prepare('SELECT 1 FROM applied_migrations WHERE name = ?').get(m.name)
      if (done) continue
      db.transaction(() => {
        db.exec(m.sql)
        db.prepare('INSERT INTO applied_migrations (name) VALUES (?)').run(m.name)
      })()
    }
  }
}
