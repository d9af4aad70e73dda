// Content-addressed artifact files: <data dir>/artifacts/sha256/<hex>.wasm, with their records in
// the registry's storage. The file is written to a temporary name, fsynced and renamed before the
// record is stored, so an interrupted upload leaves either nothing or a complete artifact. Files
// are 0600; on a full disk an upload answers 507 and leaves nothing behind.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { mkdirPrivate, writePrivateAtomic } from './private.js'
import type { ArtifactRecord, ArtifactRecordStore, ArtifactStore } from './registry-storage.js'

export type { ArtifactRecord } from './registry-storage.js'

export const WASM_IMAGE = /^wasm:sha256:([0-9a-f]{64})$/

export function digestOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export class FileArtifactStore implements ArtifactStore {
  readonly dir: string

  constructor(private readonly records: ArtifactRecordStore, dataDir: string) {
    this.dir = path.join(dataDir, 'artifacts', 'sha256')
    mkdirPrivate(this.dir)
    // leftovers of uploads interrupted by a crash
    for (const f of fs.readdirSync(this.dir)) if (f.includes('.tmp-')) fs.rmSync(path.join(this.dir, f), { force: true })
  }

  pathOf(hex: string): string {
    return path.join(this.dir, `${hex}.wasm`)
  }

  put(bytes: Uint8Array, format: string): ArtifactRecord {
    const hex = digestOf(bytes)
    const existing = this.get(hex)
    if (existing) return existing
    const rec: ArtifactRecord = { digest: hex, size: bytes.length, format, createdAt: new Date().toISOString() }
    this.records.put(rec, () => writePrivateAtomic(this.pathOf(hex), bytes))
    return rec
  }

  get(hex: string): ArtifactRecord | undefined {
    const rec = this.records.get(hex)
    if (!rec || !fs.existsSync(this.pathOf(hex))) return undefined
    return rec
  }

  list(): ArtifactRecord[] {
    return this.records.list()
  }
}
