// Keeps this node's registry in step with the cluster's state (state.ts): it watches the secrets and
// functions buckets and applies each change through the Registry, so the dispatcher's activated and
// retired events start and stop pools as for a local deploy. At start it catches up from the
// buckets' current values (a node that was down during a deploy or a removal, or joins later) and
// removes the local deployments and secrets the cluster no longer has; then it follows the updates
// (the client's ordered consumer resumes after a reconnect, delete markers included).
import { KvWatchInclude, type KV, type KvWatchEntry } from '@nats-io/kv'
import { asKindlingError } from '../errors.js'
import { functionKey } from '../names.js'
import type { StoredFunction } from '../registry/registry-storage.js'
import type { Registry } from '../registry/registry.js'
import { unseal } from '../registry/seal.js'
import { type ClusterState, splitStateKey, stateKey } from './state.js'

export interface StateSync {
  stop(): void
}

/** Catches up (resolves once the buckets' current values are applied here), then follows them. */
export async function startStateSync(state: ClusterState, registry: Registry, clusterKey: Buffer, say: (m: string) => void): Promise<StateSync> {
  const stops: (() => void)[] = []
  // secrets first: the functions that mount them find them when they are prepared
  stops.push(await follow(state.secrets, state.revisions.secrets, state, async (k, e) => {
    const { namespace, name } = splitStateKey(k)
    if (!e) return registry.applySharedSecret(namespace, name, undefined)
    let value: Buffer
    try {
      value = unseal(clusterKey, namespace, name, Buffer.from(e.value))
    } catch {
      say(`secret ${name} in ${namespace} in the cluster does not open with this node's cluster key: every node needs the same KINDLING_CLUSTER_KEY_FILE`)
      return
    }
    await registry.applySharedSecret(namespace, name, value)
  }, async (present) => {
    for (const ns of registry.defaults.namespaces) {
      for (const s of registry.listSecrets(ns)) if (!present.has(stateKey(ns, s.name))) await registry.applySharedSecret(ns, s.name, undefined)
    }
  }, say))
  stops.push(await follow(state.functions, state.revisions.functions, state, async (k, e) => {
    const { namespace, name } = splitStateKey(k)
    await registry.applyShared(functionKey(name, namespace), e?.json<StoredFunction>())
  }, async (present) => {
    for (const v of registry.list()) {
      const dep = v.stored.deployment
      if (!present.has(stateKey(dep.namespace, dep.service))) await registry.applyShared(v.key, undefined)
    }
  }, say))
  return { stop: () => stops.forEach((s) => s()) }
}

/**
 * Applies a bucket's entries one at a time, in revision order: `apply` gets undefined for a removal.
 * Entries this node has seen already (its own writes come back too) are skipped by revision.
 * Resolves when the current values are applied and `sweep` has had the keys present.
 */
async function follow(
  kv: KV,
  revisions: Map<string, number>,
  state: ClusterState,
  apply: (key: string, e: KvWatchEntry | undefined) => Promise<void>,
  sweep: (present: Set<string>) => Promise<void>,
  say: (m: string) => void,
): Promise<() => void> {
  const empty = (await kv.status()).values === 0
  const watch = await kv.watch({ include: KvWatchInclude.LastValue })
  const present = new Set<string>()
  let caughtUp!: () => void
  let failed!: (e: unknown) => void
  const initial = new Promise<void>((res, rej) => ((caughtUp = res), (failed = rej)))
  let initialDone = false
  const finish = async () => {
    if (initialDone) return
    initialDone = true
    await sweep(present)
    caughtUp()
  }
  if (empty) await finish()
  void (async () => {
    for await (const e of watch) {
      if (!initialDone && e.operation === 'PUT') present.add(e.key)
      if (e.revision > (revisions.get(e.key) ?? 0)) {
        state.seen(revisions, e.key, e.revision)
        try {
          await apply(e.key, e.operation === 'PUT' ? e : undefined)
        } catch (err) {
          say(`could not apply the cluster's change of ${e.key} (revision ${e.revision}): ${asKindlingError(err).message}`)
        }
      }
      if (!initialDone && (e.isUpdate || (e.delta ?? 0) === 0)) await finish()
    }
  })().catch(failed)
  await initial
  return () => watch.stop()
}
