// Tier defaults live in the config table (issue 11 item 6): each tier setting has a KINDLING_* name,
// reaches the tier through TierContext.settings (runtime/tiers.ts), and the tier uses it.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createContainerTier } from '../../isolation/container/index.js'
import { ProcessTier } from '../../isolation/process/tier.js'
import { ThreadTier } from '../../isolation/thread/tier.js'
import type { FunctionArtifact, TierSettings } from '../../isolation/tier.js'
import { CONFIG_TABLE, loadConfig } from '../../runtime/config.js'
import { tierContext, tierSettings } from '../../runtime/tiers.js'
import { exampleModule } from '../helpers/kindling.js'

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-tier-settings-'))
after(() => fs.rmSync(dataDir, { recursive: true, force: true }))
const services = { dataDir, readSecret: () => undefined, log: () => {} }

/** The config with every tier setting moved off its default through its environment variable. */
const ENV = {
  KINDLING_THREAD_SPARE_WORKERS: '3', KINDLING_THREAD_MIN_HEAP_MIB: '40', KINDLING_PROCESS_SPARE_PROCESSES: '0', KINDLING_PROCESS_MIN_HEAP_MIB: '48',
  KINDLING_PROCESS_BASELINE_MIB: '80', KINDLING_CONTAINER_PAUSE_IDLE_MS: '1500', KINDLING_CONTAINER_PIDS_LIMIT: '77', KINDLING_CONTAINER_TMP_MIB: '9',
  KINDLING_CONTAINER_WRITABLE_LAYER_MIB: '11', KINDLING_CONTAINER_READY_TIMEOUT_MS: '1234', KINDLING_CONTAINER_KEEP_ALIVE_MS: '2345',
  KINDLING_SPARE_APP_HOSTS: '0', KINDLING_DATA_DIR: dataDir,
}
const config = loadConfig(ENV)

function artifact(memoryMiB: number): FunctionArtifact {
  const bytes = fs.readFileSync(exampleModule('noop'))
  const digest = createHash('sha256').update(bytes).digest('hex')
  const modulePath = path.join(dataDir, `${digest}.wasm`)
  fs.writeFileSync(modulePath, bytes)
  return {
    key: 'noop.openfaas-fn', name: 'noop', namespace: 'openfaas-fn', version: '1', app: 'noop', kind: 'wasm-module', image: `wasm:sha256:${digest}`,
    envVars: {}, labels: {}, annotations: {}, secrets: [], memoryBytes: memoryMiB * 1024 * 1024, cpuCores: 0, timeoutMs: 10_000, stateMode: 'fresh',
    wasm: { modulePath, digest, resetMode: 'snapshot', prewarm: false },
  }
}

describe('tier settings', () => {
  it('come from the config table, each with a KINDLING_* variable that sets it', () => {
    const s = tierSettings(config)
    const byEnv = new Map(Object.entries(CONFIG_TABLE).map(([k, e]) => [e.env, k]))
    for (const key of Object.keys(s)) assert.ok(key in CONFIG_TABLE, `${key} is a config key`)
    for (const [env, value] of Object.entries(ENV)) {
      const key = byEnv.get(env)!
      if (key in s) assert.equal(s[key as keyof TierSettings], Number(value), env)
    }
    assert.deepEqual(tierContext(config, services, 'inline').settings, s)
    assert.equal(loadConfig({ KINDLING_CLOSE_GRACE_MS: '500' }).closeGraceMs, 500)
  })

  it('reach the thread tier: a worker\'s smallest heap and the spare workers per app host', async () => {
    const tier = new ThreadTier(tierContext(config, services, 'thread'))
    try {
      const p = await tier.prepare(artifact(8))
      assert.equal(p.load.heapMiB, 40)
      assert.equal(p.load.spareWorkers, 3)
      await tier.release(p)
    } finally {
      await tier.close()
    }
  })

  it('reach the process tier: a sandbox process gets the smallest heap as its V8 limit', async () => {
    const tier = new ProcessTier(tierContext(config, services, 'process'))
    try {
      const p = await tier.prepare(artifact(16))
      const sb = await tier.spawn(p, { sandboxId: 'sb-1' })
      const cmdline = fs.readFileSync(`/proc/${tier.pidOf('sb-1')}/cmdline`, 'utf8').split('\0')
      assert.ok(cmdline.includes('--max-old-space-size=48'), cmdline.join(' '))
      assert.equal(tier.spares.size, 0)
      await sb.dispose('shutdown')
      await tier.release(p)
    } finally {
      await tier.close()
    }
  })

  it('reach the container tier, and its options still override them', async () => {
    const options = async (o: Parameters<typeof createContainerTier>[1]) => {
      const tier = createContainerTier(tierContext(config, services, 'container'), o)
      try {
        return { ...tier.options }
      } finally {
        await tier.close()
      }
    }
    const fromSettings = await options({})
    assert.deepEqual(fromSettings, { pauseIdleMs: 1500, pidsLimit: 77, tmpSizeMiB: 9, writableLayerMiB: 11, readyTimeoutMs: 1234, keepAliveMs: 2345 })
    assert.deepEqual(await options({ pauseIdleMs: 0, keepAliveMs: 10 }), { ...fromSettings, pauseIdleMs: 0, keepAliveMs: 10 })
  })
})
