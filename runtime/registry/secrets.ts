// Secret values in SQLite, sealed (AES-256-GCM, see seal.ts) with the key in <data dir>/secrets:
// listed by name only, never returned or logged. Rows written in clear text by an older kindling
// are sealed at start.
import { KindlingError } from '../errors.js'
import type { Db } from './db.js'
import type { SecretValueStore } from './registry-storage.js'
import { seal, unseal } from './seal.js'
import { storageWrite } from './storage.js'

export class SqliteSecretStore implements SecretValueStore {
  /** `key` loads (or makes, on first use) the sealing key: lazily, so a start on a full disk does not need to write it */
  constructor(private readonly db: Db, private readonly key: () => Buffer) {}

  /**
   * Seals the values an older kindling stored in clear text, and scrubs the clear text from the
   * database file and its WAL (secure_delete zeroes the old cells; the checkpoint empties the WAL).
   * Returns how many were sealed.
   */
  sealClearRows(): number {
    const rows = this.db.prepare('SELECT namespace, name, value FROM secrets WHERE sealed = 0').all() as { namespace: string; name: string; value: Buffer }[]
    if (rows.length === 0) return 0
    const mode = this.db.pragma('secure_delete', { simple: true })
    this.db.pragma('secure_delete = ON')
    try {
      const update = this.db.prepare('UPDATE secrets SET value = ?, sealed = 1 WHERE namespace = ? AND name = ?')
      this.db.transaction(() => {
        for (const r of rows) update.run(seal(this.key(), r.namespace, r.name, r.value), r.namespace, r.name)
      })()
      this.db.pragma('wal_checkpoint(TRUNCATE)')
    } finally {
      this.db.pragma(`secure_delete = ${mode === 2 ? 'FAST' : Number(mode)}`)
    }
    return rows.length
  }

  /** Whether the sealed values open with the key (one is tried); false means a lost or replaced key. */
  keyOpens(): boolean {
    const r = this.db.prepare('SELECT namespace, name, value FROM secrets WHERE sealed = 1 LIMIT 1').get() as { namespace: string; name: string; value: Buffer } | undefined
    if (!r) return true
    try {
      unseal(this.key(), r.namespace, r.name, r.value)
      return true
    } catch {
      return false
    }
  }

  list(namespace: string): { name: string; namespace: string }[] {
    return this.db.prepare('SELECT name, namespace FROM secrets WHERE namespace = ? ORDER BY name').all(namespace) as { name: string; namespace: string }[]
  }

  read(namespace: string, name: string): Buffer | undefined {
    const r = this.db.prepare('SELECT value, sealed FROM secrets WHERE namespace = ? AND name = ?').get(namespace, name) as { value: Buffer; sealed: number } | undefined
    if (!r) return undefined
    if (!r.sealed) return r.value
    try {
      return unseal(this.key(), namespace, name, r.value)
    } catch {
      throw new KindlingError('KINDLING_ERR_SECRET_UNREADABLE', `secret ${name} in ${namespace} does not open with the key in the data dir`)
    }
  }

  exists(namespace: string, name: string): boolean {
    return this.db.prepare('SELECT 1 FROM secrets WHERE namespace = ? AND name = ?').get(namespace, name) !== undefined
  }

  create(namespace: string, name: string, value: Buffer): boolean {
    const now = new Date().toISOString()
    return storageWrite(this.db, 'secret write', () =>
      this.db.prepare('INSERT OR IGNORE INTO secrets (namespace, name, value, sealed, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)').run(namespace, name, seal(this.key(), namespace, name, value), now, now).changes > 0)
  }

  update(namespace: string, name: string, value: Buffer): boolean {
    return storageWrite(this.db, 'secret write', () =>
      this.db.prepare('UPDATE secrets SET value = ?, sealed = 1, updated_at = ? WHERE namespace = ? AND name = ?').run(seal(this.key(), namespace, name, value), new Date().toISOString(), namespace, name).changes > 0)
  }

  delete(namespace: string, name: string): boolean {
    return storageWrite(this.db, 'secret removal', () => this.db.prepare('DELETE FROM secrets WHERE namespace = ? AND name = ?').run(namespace, name).changes > 0, { admit: false })
  }
}
