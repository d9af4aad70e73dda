// Secret values in SQLite: listed by name only, never returned or logged.
import type { Db } from './db.js'

export class SecretStore {
  constructor(private readonly db: Db) {}

  list(namespace: string): { name: string; namespace: string }[] {
    return this.db.prepare('SELECT name, namespace FROM secrets WHERE namespace = ? ORDER BY name').all(namespace) as { name: string; namespace: string }[]
  }

  read(namespace: string, name: string): Buffer | undefined {
    const r = this.db.prepare('SELECT value FROM secrets WHERE namespace = ? AND name = ?').get(namespace, name) as { value: Buffer } | undefined
    return r?.value
  }

  exists(namespace: string, name: string): boolean {
    return this.db.prepare('SELECT 1 FROM secrets WHERE namespace = ? AND name = ?').get(namespace, name) !== undefined
  }

  create(namespace: string, name: string, value: Buffer): boolean {
    const now = new Date().toISOString()
    return this.db.prepare('INSERT OR IGNORE INTO secrets (namespace, name, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(namespace, name, value, now, now).changes > 0
  }

  update(namespace: string, name: string, value: Buffer): boolean {
    return this.db.prepare('UPDATE secrets SET value = ?, updated_at = ? WHERE namespace = ? AND name = ?').run(value, new Date().toISOString(), namespace, name).changes > 0
  }

  delete(namespace: string, name: string): boolean {
    return this.db.prepare('DELETE FROM secrets WHERE namespace = ? AND name = ?').run(namespace, name).changes > 0
  }
}
