// Content-addressed artifact store: <data dir>/artifacts/sha256/<hex>.wasm plus a row in SQLite.
// The file is written to a temporary name, fsynced and renamed before the row is inserted, so an
// interrupted upload leaves either nothing or a complete artifact. Files are 0600; on a full disk
// an upload answers 507 and leaves nothing behind.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Db } from './db.js'
import { mkdirPrivate, writePrivateAtomic } from './private.js'
import { storageWrite } from './storage.js'

export interface ArtifactRecord {
  digest: string
  size: number
  format: string
  createdAt: string
}

export const WASM_IMAGE = /^wasm:sha256:([0-9a-f]{64})$/

export class ArtifactStore {
  readonly dir: string

  constructor(private readonly db: Db, dataDir: string) {
    this.dir = path.join(dataDir, 'artifacts', 'sha256')
    mkdirPrivate(this.dir)
    // leftovers of uploads interrupted by a crash
    for (const f of fs.readdirSync(this.dir)) if (f.includes('.tmp-')) fs.rmSync(path.join(this.dir, f), { force: true })
  }

  static digestOf(bytes: Uint8Array): string {
    return createHash('sha256').update(bytes).digest('hex')
  }

  pathOf(hex: string): string {
    return path.join(this.dir, `${hex}.wasm`)
  }

  /** Stores bytes whose format was already checked; idempotent for the same bytes. */
  put(bytes: Uint8Array, format: string): ArtifactRecord {
    const hex = ArtifactStore.digestOf(bytes)
    const existing = this.get(hex)
    if (existing && fs.existsSync(this.pathOf(hex))) return existing
    const rec: ArtifactRecord = { digest: hex, size: bytes.length, format, createdAt: new Date().toISOString() }
    storageWrite(this.db, 'artifact upload', () => {
      writePrivateAtomic(this.pathOf(hex), bytes)
      this.db.prepare('INSERT OR REPLACE INTO artifacts (digest, size, format, created_at) VALUES (?, ?, ?, ?)').run(hex, rec.size, format, rec.createdAt)
    })
    return rec
  }

  get(hex: string): ArtifactRecord | undefined {
    const row = this.db.prepare('SELECT digest, size, format, created_at AS createdAt FROM artifacts WHERE digest = ?').get(hex) as ArtifactRecord | undefined
    if (!row || !fs.existsSync(this.pathOf(hex))) return undefined
    return row
  }

  list(): ArtifactRecord[] {
    return this.db.prepare('SELECT digest, size, format, created_at AS createdAt FROM artifacts ORDER BY created_at').all() as ArtifactRecord[]
  }
}
