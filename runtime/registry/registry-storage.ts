// What the registry keeps, as interfaces: deployments, secrets (sealed at rest) and artifact
// records in a RegistryStorage, artifact bytes in an ArtifactStore. The SQLite implementation
// (sqlite-storage.ts, files.ts) is the embedded default; a cluster swaps in another (a KV bucket)
// without the gateway or the pool noticing.

export interface StoredFunction {
  /** the deployment as validated by spec.ts */
  deployment: import('../spec.js').Deployment
  version: string
  createdAt: string
  updatedAt: string
  /** replicas set through the scale API; null = from the labels */
  replicas: number | null
}

export interface ArtifactRecord {
  digest: string
  size: number
  format: string
  createdAt: string
}

/** Each write is atomic: a crash leaves the previous or the new state. */
export interface DeploymentStore {
  all(): StoredFunction[]
  get(namespace: string, name: string): StoredFunction | undefined
  /** inserts or replaces (507 on a full disk) */
  put(fn: StoredFunction): void
  /** a hint for the next start: best effort, never fails its caller */
  setReplicas(namespace: string, name: string, replicas: number | null): void
  delete(namespace: string, name: string): boolean
}

/** Secret values, sealed at rest; listed by name only. */
export interface SecretValueStore {
  list(namespace: string): { name: string; namespace: string }[]
  read(namespace: string, name: string): Buffer | undefined
  exists(namespace: string, name: string): boolean
  /** false when it exists already */
  create(namespace: string, name: string, value: Buffer): boolean
  /** false when it does not exist */
  update(namespace: string, name: string, value: Buffer): boolean
  delete(namespace: string, name: string): boolean
}

export interface ArtifactRecordStore {
  get(digest: string): ArtifactRecord | undefined
  /** stores the record after `writeBytes` has put the bytes in place, as one guarded write (507 on a full disk) */
  put(rec: ArtifactRecord, writeBytes: () => void): void
  list(): ArtifactRecord[]
}

export interface RegistryStorage {
  readonly deployments: DeploymentStore
  readonly secrets: SecretValueStore
  readonly artifacts: ArtifactRecordStore
}

/** Content-addressed artifact bytes (sha256) with their records. */
export interface ArtifactStore {
  /** stores bytes whose format was already checked; idempotent for the same bytes */
  put(bytes: Uint8Array, format: string): ArtifactRecord
  /** the record, when its bytes are there */
  get(digest: string): ArtifactRecord | undefined
  list(): ArtifactRecord[]
  /** where a tier reads the bytes from */
  pathOf(digest: string): string
}

/**
 * The cluster's copy of the registry (runtime/cluster/state.ts), when the node is in one: each
 * change made through the API is stored there first, and a change it refuses (503 when NATS cannot
 * be reached, 409 when another gateway changed the same thing first) is not applied here at all.
 * Changes made on other nodes come back through Registry.applyShared / applySharedSecret.
 */
export interface SharedState {
  /** a deploy, update or scale of `fn` (create fails when the cluster has the name already) */
  putFunction(fn: StoredFunction, mode: 'create' | 'update' | 'scale'): Promise<void>
  removeFunction(namespace: string, name: string): Promise<void>
  /** false: create found it there already, update did not find it */
  putSecret(namespace: string, name: string, value: Buffer, mode: 'create' | 'update'): Promise<boolean>
  /** false when the cluster does not have it */
  removeSecret(namespace: string, name: string): Promise<boolean>
  /** stores uploaded bytes in the cluster's object store (idempotent) */
  putArtifact(rec: ArtifactRecord, bytes: Uint8Array): Promise<void>
  /** brings the bytes of an artifact this node lacks from the cluster (digest checked); false when the cluster has none */
  fetchArtifact(digest: string): Promise<boolean>
  /** a deployed container image this node's image store has goes into the cluster (idempotent) */
  shareImage(image: string): Promise<void>
  /** brings a container image this node lacks from the cluster (digest checked); false when the cluster has none */
  fetchImage(image: string): Promise<boolean>
}
