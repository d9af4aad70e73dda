// The registry: what is deployed. It validates and persists deployments, keeps artifacts and
// secrets, and tells whoever listens (the dispatcher) which version of a function is current.
// It knows nothing of pools or tiers: a deploy awaits the prepare hook (the dispatcher prepares
// the version on its tier; throwing refuses it, and nothing is stored) before it persists.
// Deploy, update, removal, scale and secret refresh of one function are serialised; calls never
// wait for them (they see the old or the new version).
import { randomUUID } from 'node:crypto'
import { KindlingError, asKindlingError } from '../errors.js'
import { functionKey } from '../names.js'
import { type FunctionSettings, type SpecDefaults, isWasmImage, parseDeployment, settingsOf } from '../spec.js'
import { digestOf, WASM_IMAGE } from './artifacts.js'
import type { ArtifactRecord, ArtifactStore, RegistryStorage, SecretValueStore, SharedState, StoredFunction } from './registry-storage.js'

/** The uploaded module a `wasm:sha256:<hex>` image names. */
export interface ModuleRef {
  digest: string
  /** where its bytes are */
  path: string
  /** as classified at upload ('component' for a WebAssembly component) */
  format: string
}

/** One version of a deployment. Only `stored.replicas` changes after it is made. */
export interface DeploymentVersion {
  readonly key: string
  readonly stored: StoredFunction
  readonly settings: FunctionSettings
  /** undefined for a container image, or for a module that has not been uploaded */
  readonly module: ModuleRef | undefined
}

/** Why a version became current. */
export type ActivationCause = 'deploy' | 'update' | 'load' | 'secret'

export interface RegistryEvents {
  /** a version became current; `previous` is the one it replaces (retired right after) */
  activated: { version: DeploymentVersion; cause: ActivationCause; previous: DeploymentVersion | undefined }
  /** a version is replaced or removed, or was prepared but could not be stored */
  retired: { version: DeploymentVersion; reason: string; removed: boolean }
  /** replicas were set through the API (already clamped to the function's max) */
  changed: { version: DeploymentVersion; replicas: number }
}

type Listener<E extends keyof RegistryEvents> = (e: RegistryEvents[E]) => void | Promise<void>

/**
 * Prepares a version before it becomes current (the dispatcher's). Throwing refuses it. At start-up
 * ('load') it throws only when the version can never run here; a failure to prepare is kept by the
 * hook's owner and shown with the function.
 */
export type PrepareHook = (version: DeploymentVersion, cause: ActivationCause) => Promise<void>

/** Finds out what uploaded bytes are (wasm module or component), or throws a KindlingError. */
export type Classifier = (bytes: Uint8Array) => Promise<{ format: string }>

export interface RegistryDeps {
  storage: RegistryStorage
  artifacts: ArtifactStore
  defaults: SpecDefaults
  /** given by the composition root, which knows the tiers */
  classify: Classifier
  /** kindling's messages about a function (the key) */
  log: (key: string, text: string) => void
  /** a cluster node's shared state: every API change is stored there before it is applied here */
  shared?: SharedState
}

export class Registry {
  private readonly current = new Map<string, DeploymentVersion>()
  private readonly locks = new Map<string, Promise<unknown>>()
  private readonly listeners: { [E in keyof RegistryEvents]: Listener<E>[] } = { activated: [], retired: [], changed: [] }
  private prepareHook: PrepareHook = async () => {}

  constructor(private readonly deps: RegistryDeps) {}

  get defaults(): SpecDefaults {
    return this.deps.defaults
  }

  /** Secret values (sealed at rest), for the tiers that mount them. */
  get secrets(): SecretValueStore {
    return this.deps.storage.secrets
  }

  get artifacts(): ArtifactStore {
    return this.deps.artifacts
  }

  on<E extends keyof RegistryEvents>(event: E, listener: Listener<E>): void {
    this.listeners[event].push(listener)
  }

  /** One hook; a second owner replaces the first. */
  setPrepareHook(hook: PrepareHook): void {
    this.prepareHook = hook
  }

  private emit<E extends keyof RegistryEvents>(event: E, e: RegistryEvents[E]): Promise<void> {
    const pending: Promise<void>[] = []
    for (const l of this.listeners[event]) {
      const r = l(e)
      if (r) pending.push(r)
    }
    return pending.length === 0 ? Promise.resolve() : Promise.all(pending).then(() => {})
  }

  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const settled = next.catch(() => {})
    this.locks.set(key, settled)
    settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key)
    })
    return next
  }

  /** Loads every stored deployment; one that cannot run here any more is left out, with a message. */
  async load(): Promise<void> {
    for (const stored of this.deps.storage.deployments.all()) {
      const dep = stored.deployment
      const key = functionKey(dep.service, dep.namespace)
      try {
        const settings = settingsOf(dep, this.deps.defaults, { clampReplicas: true })
        const version: DeploymentVersion = { key, stored, settings, module: this.moduleOf(dep.image) }
        await this.prepareHook(version, 'load')
        if (settings.scale.max === this.deps.defaults.maxReplicasCap && settings.scale.max < Number(dep.labels?.['com.openfaas.scale.max'] ?? 0)) {
          this.deps.log(key, `com.openfaas.scale.max is lowered to the cap of ${settings.scale.max} replicas (KINDLING_MAX_REPLICAS_CAP)`)
        }
        this.current.set(key, version)
        void this.emit('activated', { version, cause: 'load', previous: undefined })
      } catch (e) {
        this.deps.log(key, `stored deployment of ${key} is not valid any more: ${(e as Error).message}`)
      }
    }
  }

  /** The uploaded module an image names, when it is there. */
  private moduleOf(image: string): ModuleRef | undefined {
    if (!isWasmImage(image)) return undefined
    const digest = WASM_IMAGE.exec(image)?.[1]
    const rec = digest === undefined ? undefined : this.deps.artifacts.get(digest)
    return rec && { digest: rec.digest, path: this.deps.artifacts.pathOf(rec.digest), format: rec.format }
  }

  /** POST (create) or PUT (update) /system/functions. */
  deploy(body: unknown, mode: 'create' | 'update'): Promise<DeploymentVersion> {
    const dep = parseDeployment(body, this.deps.defaults)
    const key = functionKey(dep.service, dep.namespace)
    return this.withLock(key, async () => {
      const existing = this.current.get(key)
      if (mode === 'create' && existing) throw new KindlingError('KINDLING_ERR_FUNCTION_EXISTS', `function ${dep.service} already exists in ${dep.namespace}`)
      if (mode === 'update' && !existing) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${dep.service} is not deployed in ${dep.namespace}`)
      for (const s of dep.secrets ?? []) {
        if (!this.secrets.exists(dep.namespace, s)) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `secret ${s} does not exist in namespace ${dep.namespace}; create it with POST /system/secrets`)
      }
      const settings = settingsOf(dep, this.deps.defaults)
      await this.clusterCopy(dep.image, 'deploy')
      const now = new Date().toISOString()
      const stored: StoredFunction = { deployment: dep, version: newVersionId(), createdAt: existing?.stored.createdAt ?? now, updatedAt: now, replicas: null }
      const version: DeploymentVersion = { key, stored, settings, module: this.moduleOf(dep.image) }
      // prepared before it is stored: a module that does not compile is refused, nothing is stored
      await this.prepareHook(version, mode === 'create' ? 'deploy' : 'update')
      await this.store(version, mode)
      this.current.set(key, version)
      void this.emit('activated', { version, cause: mode === 'create' ? 'deploy' : 'update', previous: existing })
      if (existing) void this.emit('retired', { version: existing, reason: 'updated', removed: false })
      return version
    })
  }

  /**
   * Persists a prepared version (in the cluster first when `share` says how); one that cannot be
   * stored (the cluster unreachable: 503, a full disk: 507) is retired again.
   */
  private async store(version: DeploymentVersion, share?: 'create' | 'update'): Promise<void> {
    try {
      if (share && this.deps.shared) await this.deps.shared.putFunction(version.stored, share)
      this.deps.storage.deployments.put(version.stored)
    } catch (e) {
      await this.emit('retired', { version, reason: 'not stored', removed: false })
      throw e
    }
  }

  remove(name: string, namespace: string): Promise<void> {
    const key = functionKey(name, namespace)
    return this.withLock(key, async () => {
      const version = this.current.get(key)
      if (!version) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in ${namespace}`)
      await this.deps.shared?.removeFunction(namespace, name)
      this.deps.storage.deployments.delete(namespace, name)
      this.current.delete(key)
      await this.emit('retired', { version, reason: 'removed', removed: true })
    })
  }

  /** POST /system/scale-function: the number of warm sandboxes to keep, 0 included. */
  scale(name: string, namespace: string, replicas: number): Promise<void> {
    const key = functionKey(name, namespace)
    return this.withLock(key, async () => {
      const version = this.current.get(key)
      if (!version) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in ${namespace}`)
      const cap = this.deps.defaults.maxReplicasCap ?? Infinity
      if (replicas > cap) throw new KindlingError('KINDLING_ERR_TOO_MANY_REPLICAS', `replicas=${replicas} is above the cap of ${cap}`)
      const n = Math.min(replicas, version.settings.scale.max)
      await this.deps.shared?.putFunction({ ...version.stored, replicas: n }, 'scale')
      this.recordReplicas(version, n)
      await this.emit('changed', { version, replicas: n })
      this.deps.log(key, `scaled to ${n} through the API${n < replicas ? ` (asked ${replicas}, max is ${version.settings.scale.max})` : ''}`)
    })
  }

  /**
   * The replica override a restart starts from (null: the labels' min). Best effort and
   * synchronous: the call path (scale from zero) and the scaler's timer set it.
   */
  recordReplicas(version: DeploymentVersion, replicas: number | null): void {
    version.stored.replicas = replicas
    const dep = version.stored.deployment
    this.deps.storage.deployments.setReplicas(dep.namespace, dep.service, replicas)
  }

  /**
   * A secret changed: every function that mounts it gets a new version with the same deployment
   * (prepared again, so new calls read the new value on every tier); calls running finish on the old.
   */
  async refreshSecret(namespace: string, secret: string): Promise<void> {
    const mounts = (v: DeploymentVersion | undefined) => v?.stored.deployment.namespace === namespace && v.stored.deployment.secrets?.includes(secret) === true
    const users = [...this.current.values()].filter(mounts)
    await Promise.all(users.map((u) => this.withLock(u.key, async () => {
      const existing = this.current.get(u.key)
      if (!existing || !mounts(existing)) return
      const version: DeploymentVersion = { key: u.key, stored: { ...existing.stored, version: newVersionId() }, settings: existing.settings, module: existing.module }
      try {
        await this.prepareHook(version, 'secret')
      } catch (e) {
        this.deps.log(u.key, `secret ${secret} changed, but the function could not be prepared again: ${asKindlingError(e).message}`)
        return
      }
      await this.store(version)
      this.current.set(u.key, version)
      void this.emit('activated', { version, cause: 'secret', previous: existing })
      void this.emit('retired', { version: existing, reason: `replaced: secret ${secret} changed`, removed: false })
    })))
  }

  get(name: string, namespace: string): DeploymentVersion | undefined {
    return this.current.get(functionKey(name, namespace))
  }

  getByKey(key: string): DeploymentVersion | undefined {
    return this.current.get(key)
  }

  list(namespace?: string): DeploymentVersion[] {
    const all = [...this.current.values()]
    return namespace === undefined ? all : all.filter((v) => v.stored.deployment.namespace === namespace)
  }

  /**
   * POST /system/artifacts: classified (a broken module is refused here), then stored
   * content-addressed with its format, which deploys pass on to the tier (nothing classifies it
   * again). Bytes already stored were classified when they came first: their record is the answer.
   */
  async uploadArtifact(bytes: Uint8Array): Promise<ArtifactRecord> {
    if (bytes.length === 0) throw new KindlingError('KINDLING_ERR_NOT_WASM', 'the body is empty')
    const known = this.deps.artifacts.get(digestOf(bytes))
    if (known) {
      await this.deps.shared?.putArtifact(known, bytes)
      return known
    }
    const { format } = await this.deps.classify(bytes)
    if (this.deps.shared) {
      const digest = digestOf(bytes)
      await this.deps.shared.putArtifact({ digest, size: bytes.length, format, createdAt: new Date().toISOString() }, bytes)
    }
    return this.deps.artifacts.put(bytes, format)
  }

  listArtifacts(): ArtifactRecord[] {
    return this.deps.artifacts.list()
  }

  listSecrets(namespace: string): { name: string; namespace: string }[] {
    return this.secrets.list(namespace)
  }

  /** false when it exists already */
  async createSecret(namespace: string, name: string, value: Buffer): Promise<boolean> {
    if (this.deps.shared && !(await this.deps.shared.putSecret(namespace, name, value, 'create'))) return false
    // a cluster node may have it from an earlier life: the cluster's answer is the one that counts
    return this.secrets.create(namespace, name, value) || (this.deps.shared !== undefined && this.secrets.update(namespace, name, value))
  }

  /** false when it does not exist; else the functions that mount it have the new value when this resolves */
  async updateSecret(namespace: string, name: string, value: Buffer): Promise<boolean> {
    // in a cluster, this node's copy says what exists (the watch keeps it current)
    if (this.deps.shared && (!this.secrets.exists(namespace, name) || !(await this.deps.shared.putSecret(namespace, name, value, 'update')))) return false
    if (!this.secrets.update(namespace, name, value)) return false
    await this.refreshSecret(namespace, name)
    return true
  }

  /** false when it does not exist */
  async deleteSecret(namespace: string, name: string): Promise<boolean> {
    if (this.deps.shared && (!this.secrets.exists(namespace, name) || !(await this.deps.shared.removeSecret(namespace, name)))) return false
    return this.secrets.delete(namespace, name)
  }

  /**
   * In a cluster: a module this node lacks comes from the cluster first (another node uploaded it);
   * a container image goes into the cluster with a deploy, and comes from it when a change is applied.
   */
  private async clusterCopy(image: string, when: 'deploy' | 'apply'): Promise<void> {
    const shared = this.deps.shared
    if (!shared) return
    if (!isWasmImage(image)) return void (when === 'deploy' ? await shared.shareImage(image) : await shared.fetchImage(image))
    const digest = WASM_IMAGE.exec(image)?.[1]
    if (digest !== undefined && !this.deps.artifacts.get(digest)) await shared.fetchArtifact(digest)
  }

  /**
   * A deployment another node stored in the cluster (undefined: removed there), applied here as a
   * deploy, update, scale or removal would be, so that the dispatcher starts or stops its pool. It
   * is never refused: a version that cannot run here is left out with a message (placement does
   * not choose a node without its tier), and a change this node made itself is recognised by its
   * version id and skipped.
   */
  applyShared(key: string, stored: StoredFunction | undefined): Promise<void> {
    return this.withLock(key, async () => {
      const existing = this.current.get(key)
      if (!stored) {
        if (!existing) return
        const dep = existing.stored.deployment
        this.deps.storage.deployments.delete(dep.namespace, dep.service)
        this.current.delete(key)
        await this.emit('retired', { version: existing, reason: 'removed on another node', removed: true })
        return
      }
      if (existing?.stored.version === stored.version) {
        const n = stored.replicas
        if (n === null || n === existing.stored.replicas) return
        this.recordReplicas(existing, Math.min(n, existing.settings.scale.max))
        await this.emit('changed', { version: existing, replicas: existing.stored.replicas! })
        return
      }
      const dep = stored.deployment
      try {
        await this.clusterCopy(dep.image, 'apply')
        const settings = settingsOf(dep, this.deps.defaults, { clampReplicas: true })
        const version: DeploymentVersion = { key, stored, settings, module: this.moduleOf(dep.image) }
        // as at start-up: a failure to prepare is kept and shown with the function
        await this.prepareHook(version, 'load')
        await this.store(version)
        this.current.set(key, version)
        void this.emit('activated', { version, cause: existing ? 'update' : 'deploy', previous: existing })
        if (existing) void this.emit('retired', { version: existing, reason: 'updated on another node', removed: false })
      } catch (e) {
        this.deps.log(key, `the cluster's version ${stored.version} of ${key} cannot run on this node: ${asKindlingError(e).message}`)
      }
    })
  }

  /** A secret another node stored in the cluster (undefined: removed there); the functions that mount it are prepared again. */
  async applySharedSecret(namespace: string, name: string, value: Buffer | undefined): Promise<void> {
    if (value === undefined) {
      this.secrets.delete(namespace, name)
      return
    }
    if (this.secrets.exists(namespace, name)) {
      if (this.secrets.read(namespace, name)?.equals(value)) return
      this.secrets.update(namespace, name, value)
    } else this.secrets.create(namespace, name, value)
    await this.refreshSecret(namespace, name)
  }
}

function newVersionId(): string {
  return randomUUID().slice(0, 8)
}
