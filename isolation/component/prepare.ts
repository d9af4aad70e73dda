// Deploy-time preparation of a component: transpile it with jco into core modules + JS bindings,
// in a cache folder content-addressed by the component digest, the transpiler version and the
// options (written to a temporary folder and renamed, so a folder that exists is complete and is
// reused across restarts), then compile kindling's interruption checks and memory limit into each
// core module, as for plain modules.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { KindlingError } from '../errors.js'
import type { FunctionArtifact, TierContext } from '../tier.js'
import { WasmFormatError } from '../wasm/binary/bytes.js'
import { INSTRUMENT_VERSION, instrument, MemoryTooSmallError, memoryPagesFor } from '../wasm/binary/instrument.js'
import { secretPreopens, writeAtomic } from '../wasm/prepare.js'
import { toolchainFailure } from './classify.js'
import { HANDLER_EXPORT, HANDLER_INTERFACE } from './interfaces.js'
import type { ComponentPlan } from './plan.js'
import { runJco, ToolchainError, transpilerVersion, TRANSPILER_PACKAGE } from './toolchain/jco.js'
import { outboundPlanOf } from '../wasm/prepare.js'
import { kvPlanFor } from '../wasm/host/kv-plan.js'

/** Bump when the folder layout or the host contract changes. */
const CACHE_FORMAT = 1

/**
 * jco options: instantiate() takes the imports and a core-module getter (so kindling supplies its
 * own WASI host and its instrumented modules), synchronous, no Node-specific code, every core
 * module written as a file (none inlined as base64).
 */
export const TRANSPILE_OPTIONS = {
  instantiation: { tag: 'sync' },
  noTypescript: true,
  noNodejsCompat: true,
  base64Cutoff: 0,
  tlaCompat: false,
  validLiftingOptimization: false,
} as const

interface Manifest {
  js: string
  cores: string[]
  exports: string[]
  transpileMs: number
}

export interface PreparedComponent {
  plan: ComponentPlan
  prepareUs: number
  /** the transpile cache was used (nothing ran jco) */
  cached: boolean
  /** why loop checks are missing, when plan.interruptible is false */
  notInterruptibleBecause?: string
}

/** The transpiled folder of a component, made once per digest + transpiler + options. */
async function transpiled(artifact: FunctionArtifact, dataDir: string): Promise<{ dir: string; manifest: Manifest; cached: boolean }> {
  const version = transpilerVersion()
  if (!version) throw toolchainFailure(new ToolchainError(`${TRANSPILER_PACKAGE} is not installed`, true), '')
  const key = createHash('sha256').update(JSON.stringify({ f: CACHE_FORMAT, d: artifact.wasm!.digest, t: `${TRANSPILER_PACKAGE}@${version}`, o: TRANSPILE_OPTIONS })).digest('hex').slice(0, 32)
  const root = path.join(dataDir, 'cache', 'component')
  const dir = path.join(root, key)
  const manifestPath = path.join(dir, 'manifest.json')
  if (fs.existsSync(manifestPath)) return { dir, manifest: JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Manifest, cached: true }

  fs.mkdirSync(root, { recursive: true })
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
  try {
    const t0 = performance.now()
    let answer
    try {
      answer = await runJco({ op: 'transpile', outDir: tmp, options: TRANSPILE_OPTIONS }, fs.readFileSync(artifact.wasm!.modulePath))
    } catch (e) {
      throw toolchainFailure(e, 'jco could not transpile the component')
    }
    const js = answer.files.find((f) => f.endsWith('.mjs'))
    if (!js) throw new KindlingError('KINDLING_ERR_WASM_INVALID', 'jco wrote no bindings for the component')
    const manifest: Manifest = { js, cores: answer.files.filter((f) => f.endsWith('.wasm')), exports: answer.exports, transpileMs: performance.now() - t0 }
    writeAtomic(path.join(tmp, 'manifest.json'), Buffer.from(JSON.stringify(manifest, null, 2)))
    try {
      fs.renameSync(tmp, dir)
    } catch (e) {
      // another deploy of the same component got there first: use its folder
      if (!fs.existsSync(manifestPath)) throw e
    }
    return { dir, manifest, cached: false }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * Loop checks and the memory limit compiled into each core module, cached beside the transpiled
 * files per limit and fuel; status.json, written last, records which modules could not take them.
 */
function instrumented(dir: string, manifest: Manifest, maxMemoryPages: number, fuel: number): { coreModules: Record<string, string>; notInterruptibleBecause?: string } {
  const out = path.join(dir, `instrumented-v${INSTRUMENT_VERSION}-${maxMemoryPages}p-${fuel}f`)
  const coreModules = Object.fromEntries(manifest.cores.map((name) => [name, path.join(out, name)]))
  const statusPath = path.join(out, 'status.json')
  if (fs.existsSync(statusPath)) return { coreModules, ...(JSON.parse(fs.readFileSync(statusPath, 'utf8')) as { notInterruptibleBecause?: string }) }
  const reasons: string[] = []
  for (const name of manifest.cores) {
    const original = fs.readFileSync(path.join(dir, name))
    try {
      writeAtomic(coreModules[name]!, instrument(original, { interrupt: true, fuel, memoryMaxPages: maxMemoryPages }).bytes)
    } catch (e) {
      if (e instanceof MemoryTooSmallError) throw new KindlingError('KINDLING_ERR_MEMORY_TOO_SMALL', `core module ${name}: ${e.message}`)
      if (!(e instanceof WasmFormatError)) throw e
      // run it as jco wrote it: the app host's kill backstop is then what stops a runaway call
      reasons.push(`${name}: ${e.message}`)
      writeAtomic(coreModules[name]!, original)
    }
  }
  const status = { notInterruptibleBecause: reasons.length ? reasons.join('; ') : undefined }
  writeAtomic(statusPath, Buffer.from(JSON.stringify(status)))
  return { coreModules, ...status }
}

export async function prepareComponent(artifact: FunctionArtifact, ctx: TierContext): Promise<PreparedComponent> {
  const t0 = performance.now()
  if (!artifact.wasm) throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', `${artifact.image} is not a WebAssembly artifact`)
  const { dir, manifest, cached } = await transpiled(artifact, ctx.dataDir)
  const handlerExport = manifest.exports.find((e) => HANDLER_EXPORT.test(e))
  if (!handlerExport) throw new KindlingError('KINDLING_ERR_UNSUPPORTED_FORMAT', `the component does not export ${HANDLER_INTERFACE}@0.2.x`)

  const maxMemoryPages = memoryPagesFor(artifact.memoryBytes)
  const fuel = ctx.settings.interruptFuel
  const { coreModules, notInterruptibleBecause } = instrumented(dir, manifest, maxMemoryPages, fuel)

  const plan: ComponentPlan = {
    key: artifact.key,
    version: artifact.version,
    functionName: artifact.name,
    envVars: artifact.envVars,
    stateMode: artifact.stateMode,
    prewarm: artifact.wasm.prewarm,
    jsPath: path.join(dir, manifest.js),
    coreModules,
    handlerExport,
    interruptible: notInterruptibleBecause === undefined,
    fuel,
    maxMemoryPages,
    maxOutputBytes: ctx.settings.maxBodyBytes,
    instantiateTimeoutMs: artifact.timeoutMs,
    preopens: secretPreopens(artifact, ctx),
    // outbound HTTP (issue 13 item 1): wasi:http/outgoing-handler, validated at deploy (runtime/spec.ts)
    outbound: outboundPlanOf(artifact, ctx),
    // key-value stores (issue 13 item 2): wasi:keyvalue, the same grants as the kv_* imports of modules
    kv: kvPlanFor(artifact, ctx),
  }
  return { plan, prepareUs: (performance.now() - t0) * 1000, cached, notInterruptibleBecause }
}
