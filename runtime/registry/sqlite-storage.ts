// The embedded registry storage: deployments, sealed secrets and artifact records in the SQLite
// database of the data dir (db.ts), each write guarded for a full disk (storage.ts).
import type { Db } from './db.js'
import { SqliteDeploymentStore } from './deployments.js'
import type { ArtifactRecord, ArtifactRecordStore, RegistryStorage } from './registry-storage.js'
import { SqliteSecretStore } from './secrets.js'
import { storageWrite } from './storage.js'

class SqliteArtifactRecords implements ArtifactRecordStore {
  constructor(private readonly db: Db) {}

  get(hex: string): ArtifactRecord | undefined {
    return this.db.prepare('SELECT digest, size, format, created_at AS createdAt FROM artifacts WHERE digest = ?').get(hex) as ArtifactRecord | undefined
  }

  put(rec: ArtifactRecord, writeBytes: () => void): void {
    storageWrite(this.db, 'artifact upload', () => {
      writeBytes()
      this.db.prepare('INSERT OR REPLACE INTO artifacts (digest, size, format, created_at) VALUES (?, ?, ?, ?)').run(rec.digest, rec.size, rec.format, rec.createdAt)
    })
  }

  list(): ArtifactRecord[] {
    return this.db.prepare('SELECT digest, size, format, created_at AS createdAt FROM artifacts ORDER BY created_at').all() as ArtifactRecord[]
  }
}

export class SqliteRegistryStorage implements RegistryStorage {
  readonly deployments: SqliteDeploymentStore
  readonly secrets: SqliteSecretStore
  readonly artifacts: ArtifactRecordStore

  /** `secretKey` loads (or makes, on first use) the key secrets are sealed with */
  constructor(readonly db: Db, secretKey: () => Buffer) {
    this.deployments = new SqliteDeploymentStore(db)
    this.secrets = new SqliteSecretStore(db, secretKey)
    this.artifacts = new SqliteArtifactRecords(db)
  }
}
