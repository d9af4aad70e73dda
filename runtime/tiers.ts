// Which isolation tiers this gateway runs, each with its own state folder in the data dir.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from './config.js'
import { WasmTier } from '../isolation/apphost/wasm-tier.js'
import { InlineTier } from '../isolation/inline/tier.js'
import type { IsolationTier, TierContext, TierName } from '../isolation/tier.js'

export type TierServices = Pick<TierContext, 'dataDir' | 'readSecret' | 'log'>

export function tierContext(config: Config, services: TierServices, name: TierName): TierContext {
  const stateDir = path.join(services.dataDir, 'tiers', name)
  fs.mkdirSync(stateDir, { recursive: true })
  return {
    ...services,
    stateDir,
    settings: {
      execTimeoutMs: config.execTimeoutMs,
      timeoutGraceMs: config.timeoutGraceMs,
      memoryMiB: config.memoryMiB,
      maxBodyBytes: config.maxBodyBytes,
      interruptFuel: config.interruptFuel,
      appHostHeapMiB: config.appHostHeapMiB,
      spareAppHosts: config.spareAppHosts,
    },
  }
}

export async function createTiers(config: Config, services: TierServices): Promise<Map<TierName, IsolationTier>> {
  const tiers = new Map<TierName, IsolationTier>()
  tiers.set('inline', new InlineTier(tierContext(config, services, 'inline')))
  tiers.set('wasm', new WasmTier(tierContext(config, services, 'wasm')))
  return tiers
}
