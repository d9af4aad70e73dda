// Shared setup for the container tier tests: a temp data dir, a TierContext that records logs and
// serves secrets, artifacts and requests with sensible defaults, and the reason to skip when this
// machine cannot run containers.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type ContainerTier, type ContainerTierOptions, createContainerTier } from '../../../isolation/container/index.js'
import { findStaticBusybox } from '../../../isolation/container/images/index.js'
import { which } from '../../../isolation/container/runtime.js'
import type { FunctionArtifact, FunctionLogEntry, InvokeRequest, TierContext } from '../../../isolation/tier.js'
import { loadConfig } from '../../../runtime/config.js'
import { tierSettings } from '../../../runtime/tiers.js'

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..')

/** Why container tests cannot run here, or undefined. */
export function containerSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'containers need Linux'
  if (process.getuid?.() !== 0) return 'the container tier needs root'
  if (!which('crun') && !which('runc')) return 'neither crun nor runc is installed (apt-get install crun)'
  if (!findStaticBusybox()) return 'busybox-static is not installed (apt-get install busybox-static)'
  return undefined
}

export interface Harness {
  dataDir: string
  ctx: TierContext
  tier: ContainerTier
  logs: FunctionLogEntry[]
  secrets: Map<string, Buffer>
  close(): Promise<void>
}

export function makeContext(dataDir: string, logs: FunctionLogEntry[], secrets: Map<string, Buffer>): TierContext {
  const stateDir = path.join(dataDir, 'tiers', 'container')
  fs.mkdirSync(stateDir, { recursive: true })
  return {
    stateDir,
    dataDir,
    settings: { ...tierSettings(loadConfig({})), execTimeoutMs: 10_000, timeoutGraceMs: 250, memoryMiB: 128, maxBodyBytes: 1 << 20, interruptFuel: 4096, appHostHeapMiB: 1024, spareAppHosts: 0 },
    readSecret: (ns, name) => secrets.get(`${ns}/${name}`),
    log: (e) => logs.push(e),
  }
}

export function makeHarness(options: ContainerTierOptions = {}, dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-ctr-'))): Harness {
  const logs: FunctionLogEntry[] = []
  const secrets = new Map<string, Buffer>()
  const ctx = makeContext(dataDir, logs, secrets)
  const tier = createContainerTier(ctx, options)
  return {
    dataDir,
    ctx,
    tier,
    logs,
    secrets,
    async close() {
      await tier.close()
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

let version = 0

/** What a test overrides: artifact fields, and the container part's readOnlyRootFilesystem. */
export type ArtifactOverrides = Partial<FunctionArtifact> & { readOnlyRootFilesystem?: boolean }

export function artifact(over: ArtifactOverrides = {}): FunctionArtifact {
  const { readOnlyRootFilesystem = true, ...rest } = over
  const name = over.name ?? 'fn'
  return {
    key: `${name}.openfaas-fn`,
    name,
    namespace: 'openfaas-fn',
    version: String(++version),
    app: name,
    kind: 'oci-image',
    image: 'functions/alpine:latest',
    envProcess: 'cat',
    envVars: {},
    labels: {},
    annotations: {},
    secrets: [],
    memoryBytes: 64 * 1024 * 1024,
    cpuCores: 0,
    timeoutMs: 10_000,
    stateMode: 'fresh',
    container: { readOnlyRootFilesystem },
    ...rest,
  }
}

export function request(over: Partial<InvokeRequest> & { text?: string } = {}): InvokeRequest {
  const { text, ...rest } = over
  return {
    callId: 'call-1',
    method: 'POST',
    path: '/',
    query: '',
    headers: { 'content-type': 'text/plain' },
    body: Buffer.from(text ?? 'hello container'),
    deadline: Date.now() + 10_000,
    ...rest,
  }
}

export const never = (): AbortSignal => new AbortController().signal

/** Waits until `check` holds, polling; bounded. */
export async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return check()
}
