// The rows of the conformance matrix: per tier, the artifact kit it runs, why it would be skipped
// here, and the few tier-specific hooks the shared cases need (kill a sandbox's worker or process
// as a crash would; which OS processes to watch for CPU after a runaway call was stopped).
import fs from 'node:fs'
import path from 'node:path'
import type { WasmTier } from '../../isolation/apphost/wasm-tier.js'
import type { ProcessTier } from '../../isolation/process/tier.js'
import type { ThreadTier } from '../../isolation/thread/tier.js'
import type { TierName } from '../../isolation/tier.js'
import type { TestKindling } from '../helpers/kindling.js'
import { type ArtifactKit, containerKit, wasmKit } from './fixtures.js'

export interface FunctionRef {
  /** name.namespace */
  key: string
  name: string
  app: string
}

export interface TierRow {
  tier: TierName
  kit: ArtifactKit
  /** the tier's calls run on the gateway's own thread: nothing else is served while one runs */
  blocksGateway: boolean
  /** ends the OS process or thread of one sandbox of the function, as a crash would; or why it cannot */
  kill: ((k: TestKindling, fn: FunctionRef) => Promise<void>) | string
  /** the OS processes whose threads run the function's calls, or why there are none to watch */
  pids: ((k: TestKindling, fn: FunctionRef) => number[]) | string
}

/** Waits until `check` holds (bounded). */
export async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const appHostPid = (k: TestKindling, app: string) => (k.tiers.get('wasm') as WasmTier).hosts.running(app)?.pid

/** PIDs (in the host's namespace) of the function's containers waiting at their start: each sandbox
 *  folder has crun's pid file and a config.json whose hostname is the function's name. */
function containerPids(k: TestKindling, fn: FunctionRef): number[] {
  const dir = path.join(k.config.dataDirAbs, 'tiers', 'container', 'sandboxes')
  const out: number[] = []
  for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    try {
      const spec = JSON.parse(fs.readFileSync(path.join(dir, id, 'config.json'), 'utf8')) as { hostname?: string }
      const pid = Number(fs.readFileSync(path.join(dir, id, 'pid'), 'utf8'))
      if (spec.hostname === fn.name && pid > 0) out.push(pid)
    } catch {
      // a sandbox being created or torn down
    }
  }
  return out
}

export const ROWS: TierRow[] = [
  {
    tier: 'inline',
    kit: wasmKit,
    blocksGateway: true,
    kill: 'inline sandboxes live in the gateway process: there is no worker or process of their own to kill',
    pids: 'the loop runs on the gateway thread itself',
  },
  {
    tier: 'wasm',
    kit: wasmKit,
    blocksGateway: false,
    async kill(k, fn) {
      const pid = appHostPid(k, fn.app)
      if (!pid) throw new Error(`no app host for ${fn.app}`)
      process.kill(pid, 'SIGKILL')
      await until(() => appHostPid(k, fn.app) !== pid, 10_000, 'the app host to be gone')
    },
    pids: (k, fn) => [appHostPid(k, fn.app)].filter((p): p is number => !!p),
  },
  {
    tier: 'thread',
    kit: wasmKit,
    blocksGateway: false,
    async kill(k, fn) {
      const tier = k.tiers.get('thread') as ThreadTier
      const [sb] = tier.sandboxIdsOf(fn.key)
      if (!sb) throw new Error(`no thread sandbox of ${fn.key}`)
      await tier.killWorker(sb)
    },
    pids: (k, fn) => [appHostPid(k, fn.app)].filter((p): p is number => !!p),
  },
  {
    tier: 'process',
    kit: wasmKit,
    blocksGateway: false,
    async kill(k, fn) {
      const tier = k.tiers.get('process') as ProcessTier
      const [pid] = tier.pidsOf(fn.key)
      if (!pid) throw new Error(`no sandbox process of ${fn.key}`)
      process.kill(pid, 'SIGKILL')
      await until(() => !tier.pidsOf(fn.key).includes(pid), 10_000, 'the sandbox process to be gone')
    },
    pids: (k, fn) => (k.tiers.get('process') as ProcessTier).pidsOf(fn.key),
  },
  {
    tier: 'container',
    kit: containerKit,
    blocksGateway: false,
    async kill(k, fn) {
      await until(() => containerPids(k, fn).length > 0, 10_000, 'a container of the function')
      const [pid] = containerPids(k, fn)
      process.kill(pid!, 'SIGKILL')
      await until(() => !containerPids(k, fn).includes(pid!), 10_000, 'the container to be gone')
    },
    pids: 'a classic container runs one process per call, gone with its call',
  },
]

/** Why a row cannot run in this kindling, or undefined. */
export function skipReason(k: TestKindling, row: TierRow): string | undefined {
  const tier = k.tiers.get(row.tier)
  if (!tier) return `${row.tier} tier not registered`
  return tier.unavailableReason() ?? undefined
}
