// The cluster's copy of the registry in JetStream: deployments in the KV bucket kindling_functions,
// secrets (sealed with the cluster key, so NATS only ever holds ciphertext) in kindling_secrets,
// artifact bytes in the object store kindling_artifacts, container images in kindling_images
// (state-images.ts). The registry stores each API change here
// first (Registry deps.shared); a change that cannot be stored is refused with 503 and not applied
// anywhere. Conflicts are settled by KV revisions: a create fails when the key exists, an update or a
// removal names the revision this node last saw, so two gateways changing one function at once do not
// both win silently. state-sync.ts applies the others' changes on this node.
import { JetStreamApiError } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import { Objm, type ObjectStore } from '@nats-io/obj'
import { KindlingError } from '../errors.js'
import { digestOf } from '../registry/artifacts.js'
import type { ArtifactRecord, ArtifactStore, SharedState, StoredFunction } from '../registry/registry-storage.js'
import { seal } from '../registry/seal.js'
import type { ClusterLink } from './connect.js'
import { ClusterImages, IMAGES_BUCKET } from './state-images.js'
import { openImageStore } from '../../isolation/container/images/index.js'

export const FUNCTIONS_BUCKET = 'kindling_functions'
export const SECRETS_BUCKET = 'kindling_secrets'
export const ARTIFACTS_BUCKET = 'kindling_artifacts'

/** KV keys: namespaces and names hold no dots (names.ts), so `namespace.name` is unambiguous */
export const stateKey = (namespace: string, name: string) => `${namespace}.${name}`
export function splitStateKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('.')
  return { namespace: key.slice(0, i), name: key.slice(i + 1) }
}

/** how long one write to NATS may take before the change is refused */
const WRITE_TIMEOUT_MS = 5_000
/** JetStream's "wrong last sequence": the key changed since the revision the write named */
const WRONG_LAST_SEQUENCE = 10071

export class ClusterState implements SharedState {
  /** the last revision of each key this node has seen (its own writes and the watch's entries) */
  readonly revisions = { functions: new Map<string, number>(), secrets: new Map<string, number>() }

  private constructor(
    private readonly link: ClusterLink,
    private readonly key: Buffer,
    readonly functions: KV,
    readonly secrets: KV,
    readonly objects: ObjectStore,
    private readonly artifacts: ArtifactStore,
    private readonly images: ClusterImages,
    private readonly runsCalls: boolean,
  ) {}

  /** Opens (or makes) the buckets. */
  static async open(link: ClusterLink, key: Buffer, artifacts: ArtifactStore, node: { dataDir: string; runsCalls: boolean }): Promise<ClusterState> {
    const kvm = new Kvm(link.nc)
    // history 1: the current value is all a node catches up from; a removal leaves a delete marker
    const functions = await kvm.create(FUNCTIONS_BUCKET, { history: 1 })
    const secrets = await kvm.create(SECRETS_BUCKET, { history: 1 })
    const objm = new Objm(link.nc)
    const objects = await objm.create(ARTIFACTS_BUCKET)
    const images = new ClusterImages(await objm.create(IMAGES_BUCKET), openImageStore(node.dataDir), node.dataDir)
    return new ClusterState(link, key, functions, secrets, objects, artifacts, images, node.runsCalls)
  }

  seen(map: Map<string, number>, key: string, revision: number): void {
    if (revision > (map.get(key) ?? 0)) map.set(key, revision)
  }

  /** refuses at once while NATS is down (a write would only wait for the reconnect) */
  private ready(what: string): void {
    if (!this.link.connected()) throw unavailable(what, this.link.lastProblem() ?? 'not connected')
  }

  async putFunction(fn: StoredFunction, mode: 'create' | 'update' | 'scale'): Promise<void> {
    const dep = fn.deployment
    const k = stateKey(dep.namespace, dep.service)
    const what = mode === 'scale' ? `scaling ${dep.service}` : `the ${mode === 'create' ? 'deploy' : 'update'} of ${dep.service}`
    this.ready(what)
    const value = JSON.stringify(fn)
    try {
      const rev = mode === 'create'
        ? await this.functions.create(k, value)
        : await this.functions.update(k, value, this.lastRevision(this.revisions.functions, k, dep.service), WRITE_TIMEOUT_MS)
      this.seen(this.revisions.functions, k, rev)
    } catch (e) {
      if (!isConflict(e)) throw unavailable(what, e)
      if (mode === 'create') throw new KindlingError('KINDLING_ERR_FUNCTION_EXISTS', `function ${dep.service} already exists in ${dep.namespace} (deployed through another gateway)`)
      throw new KindlingError('KINDLING_ERR_CLUSTER_CONFLICT', `function ${dep.service} in ${dep.namespace} was changed through another gateway at the same time; ${what} was not applied`)
    }
  }

  async removeFunction(namespace: string, name: string): Promise<void> {
    const k = stateKey(namespace, name)
    this.ready(`the removal of ${name}`)
    try {
      await this.functions.delete(k, { previousSeq: this.lastRevision(this.revisions.functions, k, name) })
    } catch (e) {
      if (!isConflict(e)) throw unavailable(`the removal of ${name}`, e)
      throw new KindlingError('KINDLING_ERR_CLUSTER_CONFLICT', `function ${name} in ${namespace} was changed through another gateway at the same time; it was not removed`)
    }
  }

  async putSecret(namespace: string, name: string, value: Buffer, mode: 'create' | 'update'): Promise<boolean> {
    const k = stateKey(namespace, name)
    this.ready(`the secret write of ${name}`)
    const sealed = seal(this.key, namespace, name, value)
    const known = this.revisions.secrets.get(k)
    if (mode === 'update' && known === undefined) return false
    try {
      const rev = mode === 'create' ? await this.secrets.create(k, sealed) : await this.secrets.update(k, sealed, known!, WRITE_TIMEOUT_MS)
      this.seen(this.revisions.secrets, k, rev)
      return true
    } catch (e) {
      if (!isConflict(e)) throw unavailable(`the secret write of ${name}`, e)
      if (mode === 'create') return false
      throw new KindlingError('KINDLING_ERR_CLUSTER_CONFLICT', `secret ${name} in ${namespace} was changed through another gateway at the same time; this write was not applied`)
    }
  }

  async removeSecret(namespace: string, name: string): Promise<boolean> {
    const k = stateKey(namespace, name)
    this.ready(`the removal of secret ${name}`)
    const known = this.revisions.secrets.get(k)
    if (known === undefined) return false
    try {
      await this.secrets.delete(k, { previousSeq: known })
      return true
    } catch (e) {
      if (!isConflict(e)) throw unavailable(`the removal of secret ${name}`, e)
      throw new KindlingError('KINDLING_ERR_CLUSTER_CONFLICT', `secret ${name} in ${namespace} was changed through another gateway at the same time; it was not removed`)
    }
  }

  async putArtifact(rec: ArtifactRecord, bytes: Uint8Array): Promise<void> {
    this.ready(`the upload of ${rec.digest}`)
    try {
      if (await this.objects.info(rec.digest)) return
      await this.objects.putBlob({ name: rec.digest, description: rec.format }, bytes)
    } catch (e) {
      throw unavailable(`the upload of ${rec.digest}`, e)
    }
  }

  async fetchArtifact(digest: string): Promise<boolean> {
    if (this.artifacts.get(digest)) return true
    if (!this.link.connected()) return false
    const info = await this.objects.info(digest).catch(() => null)
    if (!info || info.deleted) return false
    const bytes = await this.objects.getBlob(digest)
    // the name is the digest: bytes that do not hash to it are not the module the deploy names
    if (!bytes || digestOf(bytes) !== digest) throw new KindlingError('KINDLING_ERR_ARTIFACT_NOT_FOUND', `the cluster's copy of artifact ${digest} is damaged (its bytes do not hash to its name)`)
    this.artifacts.put(bytes, info.description || 'module')
    return true
  }

  async shareImage(image: string): Promise<void> {
    this.ready(`the deploy of image ${image}`)
    try {
      await this.images.share(image)
    } catch (e) {
      throw unavailable(`the deploy of image ${image}`, e)
    }
  }

  /** only a node that runs calls needs the image (a gateway-only node prepares nothing) */
  async fetchImage(image: string): Promise<boolean> {
    if (!this.runsCalls || !this.link.connected()) return false
    return this.images.fetch(image)
  }

  /** the revision an update or removal expects: the last one seen, else the bucket's current one */
  private lastRevision(map: Map<string, number>, k: string, name: string): number {
    const rev = map.get(k)
    if (rev === undefined) throw new KindlingError('KINDLING_ERR_CLUSTER_CONFLICT', `${name} is not in the cluster's state (yet); read it again and retry`)
    return rev
  }
}

function isConflict(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.code === WRONG_LAST_SEQUENCE
}

function unavailable(what: string, cause: unknown): KindlingError {
  const why = cause instanceof Error ? cause.message : String(cause)
  return new KindlingError('KINDLING_ERR_CLUSTER_UNAVAILABLE', `${what} was refused: the cluster's state cannot be stored in NATS (${why}); nothing was changed`, { cause })
}
