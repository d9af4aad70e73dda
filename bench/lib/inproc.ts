// kindling's tiers in the benchmark's own process, built exactly as the gateway builds them
// (runtime/tiers.ts), for measurements without HTTP: prepare, spawn and invoke called directly.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { closeSharedHosts, createTiers, loadConfig, settingsOf, tierContext } from '../../runtime/index.js'
import { type FunctionArtifact, type InvokeRequest, type IsolationTier, ProcessTier, ThreadTier, type TierName } from '../../isolation/index.js'

export interface InProcessTiers {
  tiers: ReadonlyMap<TierName, IsolationTier>
  dataDir: string
  close(): Promise<void>
}

export async function createInProcessTiers(dataDir: string, config: Record<string, unknown> = {}): Promise<InProcessTiers> {
  fs.mkdirSync(dataDir, { recursive: true })
  const cfg = loadConfig({}, { deployExamples: false, ...config, dataDir })
  const tiers = await createTiers(cfg, { dataDir: cfg.dataDirAbs, readSecret: () => undefined, log: () => {} })
  return {
    tiers,
    dataDir: cfg.dataDirAbs,
    async close() {
      await Promise.all([...tiers.values()].map((t) => t.close().catch(() => {})))
      await closeSharedHosts(tiers).catch(() => {})
    },
  }
}

let versionSeq = 0

export interface ArtifactSpec {
  name: string
  tier: TierName
  app?: string
  labels?: Record<string, string>
  /** wasm: module bytes (written under dataDir, content-addressed) */
  wasm?: Uint8Array
  /** container: image reference and fprocess */
  image?: string
  envProcess?: string
}

/**
 * The FunctionArtifact the dispatcher builds for a deployment with these labels
 * (settings come from runtime/spec.ts, so label defaults are kindling's own).
 */
export function artifactFor(dataDir: string, spec: ArtifactSpec): FunctionArtifact {
  const labels = { 'com.kindling.isolation': spec.tier, ...(spec.app ? { 'com.kindling.app': spec.app } : {}), ...spec.labels }
  const image = spec.wasm ? `wasm:sha256:${'0'.repeat(64)}` : spec.image ?? ''
  const dep = { service: spec.name, image, namespace: 'openfaas-fn', labels, envProcess: spec.envProcess }
  const s = settingsOf(dep, { namespaces: ['openfaas-fn'], defaultNamespace: 'openfaas-fn', execTimeoutMs: 30_000, memoryMiB: 128, maxReplicas: 20, queueDepth: 1024 })
  const a: FunctionArtifact = {
    key: `${spec.name}.openfaas-fn`,
    name: spec.name,
    namespace: 'openfaas-fn',
    version: `b${++versionSeq}`,
    app: s.app,
    kind: spec.wasm ? 'wasm-module' : 'oci-image',
    image,
    envProcess: spec.envProcess,
    envVars: {},
    labels,
    annotations: {},
    secrets: [],
    memoryBytes: s.memoryBytes,
    cpuCores: s.cpuCores,
    timeoutMs: s.timeoutMs,
    stateMode: s.stateMode,
    container: spec.wasm ? undefined : { readOnlyRootFilesystem: true },
  }
  if (spec.wasm) {
    const digest = createHash('sha256').update(spec.wasm).digest('hex')
    const file = path.join(dataDir, 'bench-artifacts', `${digest}.wasm`)
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, spec.wasm)
    }
    a.wasm = { modulePath: file, digest, resetMode: s.resetMode, prewarm: s.prewarm }
    a.image = `wasm:sha256:${digest}`
  }
  return a
}

let callSeq = 0

export function invokeRequest(body: Buffer, contentType = 'text/plain'): InvokeRequest {
  const callId = `bench-${++callSeq}`
  return { callId, method: 'POST', path: '/', query: '', headers: { 'content-type': contentType, 'x-call-id': callId }, body, deadline: Date.now() + 30_000 }
}

export const NEVER: AbortSignal = new AbortController().signal

/**
 * The thread or process tier built without spare workers or processes, so that every new sandbox
 * starts its worker or process on the critical path (what the bare Worker spawn / fork floor is
 * compared with). Undefined for other tiers.
 */
export async function createNoSpareTier(name: TierName, dataDir: string): Promise<IsolationTier | undefined> {
  const cfg = loadConfig({}, { deployExamples: false, spareAppHosts: 0, dataDir })
  const services = { dataDir: cfg.dataDirAbs, readSecret: () => undefined, log: () => {} }
  if (name === 'thread') {
    return new ThreadTier(tierContext(cfg, services, 'thread'), undefined, { spareWorkers: 0 })
  }
  if (name === 'process') {
    return new ProcessTier(tierContext(cfg, services, 'process'), { spareProcesses: 0 })
  }
  return undefined
}
