// The registry on its own (real SQLite storage, real classifier, no tiers or pools): what it
// stores and which events it emits for deploy, update, scale, secret change, removal and restart,
// and that a version its prepare hook refuses is not stored.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { FileArtifactStore } from '../../../runtime/registry/artifacts.js'
import { type Db, openDatabase } from '../../../runtime/registry/db.js'
import { type ActivationCause, Registry, type RegistryEvents } from '../../../runtime/registry/registry.js'
import { SqliteRegistryStorage } from '../../../runtime/registry/sqlite-storage.js'
import { classifyArtifact } from '../../../isolation/wasm/classify.js'
import { exampleModule, tempDataDir } from '../../helpers/kindling.js'

const DEFAULTS = { namespaces: ['openfaas-fn'], defaultNamespace: 'openfaas-fn', execTimeoutMs: 10_000, memoryMiB: 128, maxReplicas: 5, maxReplicasCap: 8, queueDepth: 10 }
const KEY = Buffer.alloc(32, 7)

type Seen = { event: string; version: string; detail: string }

function open(dir: string): { db: Db; registry: Registry; seen: Seen[]; prepared: { version: string; cause: ActivationCause }[] } {
  const db = openDatabase(dir)
  const storage = new SqliteRegistryStorage(db, () => KEY)
  const registry = new Registry({ storage, artifacts: new FileArtifactStore(storage.artifacts, dir), defaults: DEFAULTS, classify: classifyArtifact, log: () => {} })
  const seen: Seen[] = []
  const prepared: { version: string; cause: ActivationCause }[] = []
  registry.setPrepareHook(async (v, cause) => {
    if (v.stored.deployment.envProcess === 'refuse') throw new Error('does not prepare')
    prepared.push({ version: v.stored.version, cause })
  })
  registry.on('activated', (e: RegistryEvents['activated']) => void seen.push({ event: 'activated', version: e.version.stored.version, detail: `${e.cause} previous=${e.previous?.stored.version ?? '-'}` }))
  registry.on('retired', (e: RegistryEvents['retired']) => void seen.push({ event: 'retired', version: e.version.stored.version, detail: e.reason }))
  registry.on('changed', (e: RegistryEvents['changed']) => void seen.push({ event: 'changed', version: e.version.stored.version, detail: String(e.replicas) }))
  return { db, registry, seen, prepared }
}

describe('registry', () => {
  const dir = tempDataDir()
  let r: ReturnType<typeof open>
  before(() => {
    r = open(dir)
  })
  after(() => {
    r.db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('deploys, updates, scales, refreshes a secret and removes, with one event each', async () => {
    const { registry, seen } = r
    assert.equal(await registry.createSecret('openfaas-fn', 'token', Buffer.from('a')), true)
    const v1 = await registry.deploy({ service: 'svc', image: 'alpine:latest', secrets: ['token'] }, 'create')
    assert.deepEqual(seen.splice(0), [{ event: 'activated', version: v1.stored.version, detail: 'deploy previous=-' }])
    await assert.rejects(registry.deploy({ service: 'svc', image: 'alpine:latest' }, 'create'), { code: 'KINDLING_ERR_FUNCTION_EXISTS' })

    const v2 = await registry.deploy({ service: 'svc', image: 'alpine:3', secrets: ['token'] }, 'update')
    assert.deepEqual(seen.splice(0), [
      { event: 'activated', version: v2.stored.version, detail: `update previous=${v1.stored.version}` },
      { event: 'retired', version: v1.stored.version, detail: 'updated' },
    ])
    assert.equal(v2.stored.createdAt, v1.stored.createdAt)

    await assert.rejects(registry.scale('svc', 'openfaas-fn', 9), { code: 'KINDLING_ERR_TOO_MANY_REPLICAS' })
    await registry.scale('svc', 'openfaas-fn', 7)
    assert.deepEqual(seen.splice(0), [{ event: 'changed', version: v2.stored.version, detail: '5' }], 'clamped to the max (KINDLING_MAX_REPLICAS default 5)')

    assert.equal(await registry.updateSecret('openfaas-fn', 'token', Buffer.from('b')), true)
    const v3 = registry.get('svc', 'openfaas-fn')!
    assert.notEqual(v3.stored.version, v2.stored.version)
    assert.equal(v3.stored.replicas, 5, 'a secret change keeps the replica override')
    assert.deepEqual(seen.splice(0), [
      { event: 'activated', version: v3.stored.version, detail: `secret previous=${v2.stored.version}` },
      { event: 'retired', version: v2.stored.version, detail: 'replaced: secret token changed' },
    ])
    assert.equal(registry.secrets.read('openfaas-fn', 'token')?.toString(), 'b')

    await registry.remove('svc', 'openfaas-fn')
    assert.deepEqual(seen.splice(0), [{ event: 'retired', version: v3.stored.version, detail: 'removed' }])
    assert.equal(registry.get('svc', 'openfaas-fn'), undefined)
    await assert.rejects(registry.remove('svc', 'openfaas-fn'), { code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' })
  })

  it('stores nothing when the prepare hook refuses a version', async () => {
    const { registry, seen, db } = r
    await assert.rejects(registry.deploy({ service: 'bad', image: 'alpine:latest', envProcess: 'refuse' }, 'create'), /does not prepare/)
    assert.equal(registry.get('bad', 'openfaas-fn'), undefined)
    assert.equal((db.prepare("SELECT count(*) AS n FROM functions WHERE name = 'bad'").get() as { n: number }).n, 0)
    assert.deepEqual(seen.splice(0), [])
  })

  it('classifies uploads, and a restart activates what was stored with cause "load"', async () => {
    const rec = await r.registry.uploadArtifact(fs.readFileSync(exampleModule('echo')))
    assert.equal(rec.format.length > 0, true)
    await assert.rejects(r.registry.uploadArtifact(Buffer.from('not wasm')), { code: 'KINDLING_ERR_NOT_WASM' })
    const v = await r.registry.deploy({ service: 'echo', image: `wasm:sha256:${rec.digest}` }, 'create')
    assert.equal(v.module?.digest, rec.digest)
    r.db.close()
    r = open(dir)
    await r.registry.load()
    assert.deepEqual(r.prepared, [{ version: v.stored.version, cause: 'load' }])
    assert.deepEqual(r.seen, [{ event: 'activated', version: v.stored.version, detail: 'load previous=-' }])
    assert.equal(r.registry.get('echo', 'openfaas-fn')?.module?.path, r.registry.artifacts.pathOf(rec.digest))
  })
})
