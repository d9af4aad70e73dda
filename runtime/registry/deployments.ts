// Function deployments in SQLite. Each deploy, update, scale or removal is one statement or one
// transaction, so a crash leaves the previous or the new state, never a mix. On a full disk a
// deploy answers 507, and a replica override (a hint for the next start) is skipped.
import type { Deployment } from '../spec.js'
import type { Db } from './db.js'
import type { DeploymentStore, StoredFunction } from './registry-storage.js'
import { bestEffortWrite, storageWrite } from './storage.js'

interface Row {
  deployment: string
  version: string
  created_at: string
  updated_at: string
  replicas: number | null
}

function fromRow(r: Row): StoredFunction {
  return { deployment: JSON.parse(r.deployment) as Deployment, version: r.version, createdAt: r.created_at, updatedAt: r.updated_at, replicas: r.replicas }
}

export class SqliteDeploymentStore implements DeploymentStore {
  constructor(private readonly db: Db) {}

  all(): StoredFunction[] {
    return (this.db.prepare('SELECT deployment, version, created_at, updated_at, replicas FROM functions ORDER BY namespace, name').all() as Row[]).map(fromRow)
  }

  get(namespace: string, name: string): StoredFunction | undefined {
    const r = this.db.prepare('SELECT deployment, version, created_at, updated_at, replicas FROM functions WHERE namespace = ? AND name = ?').get(namespace, name) as Row | undefined
    return r && fromRow(r)
  }

  /** Inserts or replaces; an update keeps createdAt and resets scale overrides. */
  put(fn: StoredFunction): void {
    const d = fn.deployment
    storageWrite(this.db, 'deploy', () => this.db
      .prepare(`INSERT INTO functions (namespace, name, deployment, version, created_at, updated_at, replicas)
                VALUES (@ns, @name, @deployment, @version, @createdAt, @updatedAt, @replicas)
                ON CONFLICT (namespace, name) DO UPDATE SET deployment = excluded.deployment, version = excluded.version,
                  updated_at = excluded.updated_at, replicas = excluded.replicas`)
      .run({ ns: d.namespace, name: d.service, deployment: JSON.stringify(d), version: fn.version, createdAt: fn.createdAt, updatedAt: fn.updatedAt, replicas: fn.replicas }))
  }

  setReplicas(namespace: string, name: string, replicas: number | null): void {
    // called on the call path (scale from zero) and from timers: never fails them
    bestEffortWrite(this.db, 'replica override', () => this.db.prepare('UPDATE functions SET replicas = ? WHERE namespace = ? AND name = ?').run(replicas, namespace, name))
  }

  delete(namespace: string, name: string): boolean {
    return storageWrite(this.db, 'removal', () => this.db.prepare('DELETE FROM functions WHERE namespace = ? AND name = ?').run(namespace, name).changes > 0, { admit: false })
  }
}
