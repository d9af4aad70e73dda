// Which isolation tiers this gateway runs, each with its own state folder in the data dir.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from './config.js'
import { AppHostManager } from '../isolation/apphost/manager.js'
import { installComponentSupport } from '../isolation/component/support.js'
import { WasmTier } from '../isolation/apphost/wasm-tier.js'
import { createContainerTier } from '../isolation/container/index.js'
import { InlineTier } from '../isolation/inline/tier.js'
import { ProcessTier } from '../isolation/process/tier.js'
import { THREAD_HOST_KIND_URL, ThreadTier } from '../isolation/thread/tier.js'
import type { IsolationTier, TierContext, TierName, TierSettings } from '../isolation/tier.js'

export type TierServices = Pick<TierContext, 'dataDir' | 'readSecret' | 'log'>

export function tierContext(config: Config, services: TierServices, name: TierName): TierContext {
  const stateDir = path.join(services.dataDir, 'tiers', name)
  fs.mkdirSync(stateDir, { recursive: true })
  return {
    ...services,
    stateDir,
    settings: tierSettings(config),
    envVariables: config.variablesEnv,
  }
}

/** The tiers' defaults and tunables from the config table: the only way config reaches a tier. */
export function tierSettings(config: Config): TierSettings {
  return {
    execTimeoutMs: config.execTimeoutMs,
    timeoutGraceMs: config.timeoutGraceMs,
    memoryMiB: config.memoryMiB,
    maxBodyBytes: config.maxBodyBytes,
    interruptFuel: config.interruptFuel,
    appHostHeapMiB: config.appHostHeapMiB,
    spareAppHosts: config.spareAppHosts,
    threadSpareWorkers: config.threadSpareWorkers,
    threadMinHeapMiB: config.threadMinHeapMiB,
    processSpareProcesses: config.processSpareProcesses,
    processMinHeapMiB: config.processMinHeapMiB,
    processBaselineMiB: config.processBaselineMiB,
    containerPauseIdleMs: config.containerPauseIdleMs,
    containerPidsLimit: config.containerPidsLimit,
    containerTmpMiB: config.containerTmpMiB,
    containerWritableLayerMiB: config.containerWritableLayerMiB,
    containerReadyTimeoutMs: config.containerReadyTimeoutMs,
    containerKeepAliveMs: config.containerKeepAliveMs,
    outboundMaxResponseBytes: config.outboundMaxResponseBytes, // outbound HTTP (issue 13 item 1)
    outboundMaxRequestBytes: config.outboundMaxRequestBytes, // outbound request cap (issue 13 item 1)
    registryMirrors: config.registryMirrors,
    insecureRegistries: config.insecureRegistries,
    registryAuthFile: config.registryAuthFile,
    registryTimeoutMs: config.registryTimeoutMs,
    imageMaxManifestBytes: config.imageMaxManifestBytes,
    imageMaxLayerBytes: config.imageMaxLayerBytes,
    imageMaxUnpackedBytes: config.imageMaxUnpackedBytes,
    // key-value state (issue 13, item 2)
    kvMaxKeyBytes: config.kvMaxKeyBytes,
    kvMaxValueBytes: config.kvMaxValueBytes,
    kvMaxStoreBytes: config.kvMaxStoreBytes,
    natsUrl: config.natsUrl,
    kvClusterTimeoutMs: config.kvClusterTimeoutMs,
  }
}

/**
 * Sandbox kinds the app hosts load besides wasm instances: module specifiers (absolute file URLs)
 * that call registerHostKind() when imported inside an app host. The thread tier adds its own.
 */
export const APP_HOST_KINDS: string[] = [THREAD_HOST_KIND_URL]
// wasi:http components: the upload check and the app hosts' `component` kind (jco loads lazily)
APP_HOST_KINDS.push(installComponentSupport())

export async function createTiers(config: Config, services: TierServices): Promise<Map<TierName, IsolationTier>> {
  const tiers = new Map<TierName, IsolationTier>()
  // one app host per application, shared by every tier that runs inside app hosts
  const appHosts = new AppHostManager({
    spares: config.spareAppHosts,
    heapMiB: config.appHostHeapMiB,
    cpuProfDir: config.appHostCpuProfDir || undefined,
    kinds: APP_HOST_KINDS,
    onStderr: (line) => process.stderr.write(`[app host] ${line}\n`),
  })
  tiers.set('inline', new InlineTier(tierContext(config, services, 'inline')))
  tiers.set('wasm', new WasmTier(tierContext(config, services, 'wasm'), appHosts))
  tiers.set('thread', new ThreadTier(tierContext(config, services, 'thread'), appHosts))
  tiers.set('process', new ProcessTier(tierContext(config, services, 'process')))
  tiers.set('container', createContainerTier(tierContext(config, services, 'container')))
  return tiers
}

/** Stops the app hosts shared by the tiers (after the tiers themselves are closed). */
export async function closeSharedHosts(tiers: ReadonlyMap<TierName, IsolationTier>): Promise<void> {
  const wasm = tiers.get('wasm') as WasmTier | undefined
  await wasm?.hosts.close()
}
