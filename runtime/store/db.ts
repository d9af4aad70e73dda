// The SQLite database in the data dir: function specs, artifact metadata, secrets and the async
// queue. WAL mode: a committed transaction survives kill -9 of the gateway.
import Database from 'better-sqlite3'
import fs from 'node:fs'
import path from 'node:path'

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
]

export function getMeta(db: Db, key: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
}

export function openDatabase(dataDir: string): Db {
  fs.mkdirSync(dataDir, { recursive: true })
  const db = new Database(path.join(dataDir, 'kindling.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
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
