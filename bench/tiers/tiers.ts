// Cold start (tier.spawn) and warm invocation (sandbox.invoke) of each tier, measured in this
// process through the tier interface alone, with the noop example function.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { type FunctionArtifact, InlineTier, type InvokeRequest, type IsolationTier, ProcessTier, ThreadTier, type TierContext, WasmTier } from '../../isolation/index.js'
import { loadConfig, REPO_ROOT, tierSettings } from '../../runtime/index.js'
import { type Summary, summarize } from './stats.js'

export interface TierVariant {
  label: string
  tier: string
  /** what a new sandbox starts from */
  start: string
  make(ctx: TierContext): IsolationTier
  /** waits until the tier is back in its steady state between two spawns (spares refilled) */
  settle?(tier: IsolationTier): Promise<void>
}

export interface TierResults {
  label: string
  tier: string
  start: string
  spawn: Summary
  /** instantiation inside spawn, as the tier reported it */
  instantiate: Summary
  invoke?: Summary
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const never = new AbortController().signal

export const VARIANTS: TierVariant[] = [
  { label: 'inline', tier: 'inline', start: 'instance in the gateway', make: (ctx) => new InlineTier(ctx) },
  { label: 'wasm', tier: 'wasm', start: 'instance in a warm app host', make: (ctx) => new WasmTier(ctx) },
  {
    label: 'thread (spare worker)',
    tier: 'thread',
    start: 'booted spare worker + module hand-over',
    make: (ctx) => new ThreadTier(ctx, undefined, { spareWorkers: 1 }),
    // the gateway cannot see an app host's spares: give the replacement spare time to boot
    settle: () => sleep(400),
  },
  { label: 'thread (no spare)', tier: 'thread', start: 'new worker thread', make: (ctx) => new ThreadTier(ctx, undefined, { spareWorkers: 0 }) },
  {
    label: 'process (spare process)',
    tier: 'process',
    start: 'booted spare process + LOAD/SPAWN',
    make: (ctx) => new ProcessTier(ctx, { spareProcesses: 1 }),
    settle: (t) => (t as ProcessTier).spares.ready(),
  },
  { label: 'process (no spare)', tier: 'process', start: 'new Node process', make: (ctx) => new ProcessTier(ctx, { spareProcesses: 0 }) },
]

export function benchContext(dataDir: string, name: string): TierContext {
  const stateDir = path.join(dataDir, 'tiers', name)
  fs.mkdirSync(stateDir, { recursive: true })
  return {
    stateDir,
    dataDir,
    settings: { ...tierSettings(loadConfig({})), execTimeoutMs: 30_000, timeoutGraceMs: 250, memoryMiB: 128, maxBodyBytes: 1 << 20, interruptFuel: 4096, appHostHeapMiB: 1024, spareAppHosts: 1 },
    readSecret: () => undefined,
    log: () => {},
  }
}

export function noopArtifact(dataDir: string, name: string): FunctionArtifact {
  const bytes = fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', 'noop.wasm'))
  const digest = createHash('sha256').update(bytes).digest('hex')
  const modulePath = path.join(dataDir, `${digest}.wasm`)
  fs.writeFileSync(modulePath, bytes)
  return {
    key: `${name}.bench`, name, namespace: 'bench', version: '1', app: name, kind: 'wasm-module', image: `wasm:sha256:${digest}`,
    envVars: {}, labels: {}, annotations: {}, secrets: [], memoryBytes: 128 * 1024 * 1024, cpuCores: 0, timeoutMs: 30_000, stateMode: 'fresh',
    wasm: { modulePath, digest, format: 'wasi-command', resetMode: 'snapshot', prewarm: true },
  }
}

export function request(): InvokeRequest {
  return { callId: 'bench', method: 'POST', path: '/', query: '', headers: { 'content-type': 'text/plain' }, body: Buffer.alloc(0), deadline: Date.now() + 30_000 }
}

export async function measureTier(v: TierVariant, dataDir: string, n: { spawn: number; invoke: number }, withInvoke: boolean): Promise<TierResults> {
  const ctx = benchContext(dataDir, v.tier)
  const tier = v.make(ctx)
  try {
    const prepared = await tier.prepare(noopArtifact(dataDir, `noop-${v.tier}`))
    // the first spawn starts the app host (or the first spares): not part of the samples
    const first = await tier.spawn(prepared, { sandboxId: 'warmup' })
    await first.invoke(request(), never)
    await first.dispose('replaced')
    await v.settle?.(tier)
    const instantiate: number[] = []
    const spawnUs: number[] = []
    for (let i = 0; i < n.spawn; i++) {
      const t0 = performance.now()
      const sb = await tier.spawn(prepared, { sandboxId: `s${i}` })
      spawnUs.push((performance.now() - t0) * 1000)
      instantiate.push(sb.startup.instantiateUs)
      await sb.dispose('replaced')
      await v.settle?.(tier)
    }
    let invoke: Summary | undefined
    if (withInvoke) {
      const sb = await tier.spawn(prepared, { sandboxId: 'warm' })
      for (let i = 0; i < 200; i++) await sb.invoke(request(), never)
      // one call at a time, with the turn of the event loop that lets the sandbox clean up between calls
      const us: number[] = []
      for (let i = 0; i < n.invoke; i++) {
        await new Promise((r) => setImmediate(r))
        const req = request()
        const t0 = performance.now()
        const r = await sb.invoke(req, never)
        us.push((performance.now() - t0) * 1000)
        if (r.status !== 200) throw new Error(`${v.label}: status ${r.status}`)
      }
      invoke = summarize(us)
      await sb.dispose('replaced')
    }
    await tier.release(prepared)
    return { label: v.label, tier: v.tier, start: v.start, spawn: summarize(spawnUs), instantiate: summarize(instantiate), invoke }
  } finally {
    await tier.close()
  }
}
