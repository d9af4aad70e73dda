// Turns an uploaded module into something every wasm-running tier can use: the instrumented bytes
// and the plan that travels to app hosts and workers. Nothing here compiles: the upload validated
// and classified the module (the format comes with the artifact), and the process that runs it
// compiles the instrumented bytes once (compile.ts). The instrumented bytes and what instrument()
// found are cached on disk, content-addressed by the module digest, the instrumentation options and
// INSTRUMENT_VERSION, so a restart, a scale from zero or a redeploy with the same limits reuses them.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { writePrivateAtomic } from '../files.js'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { KindlingError } from '../errors.js'
import type { FunctionArtifact, TierContext, WasmFormat } from '../tier.js'
import { WasmFormatError } from './binary/bytes.js'
import { INSTRUMENT_VERSION, instrument, type InstrumentResult, MemoryTooSmallError, memoryPagesFor } from './binary/instrument.js'
import { compileModule } from './compile.js'
import { detectCoreFormat } from './formats.js'
import type { WasmPlan } from './plan.js'
import type { PlannedPreopen } from './wasi-fs.js'
import { kvPlanFor, variablesFor } from './host/kv-plan.js'
import { DEFAULT_MAX_RESPONSE_BYTES, type OutboundPlan } from './host/outbound.js'
import { DEFAULT_MAX_REQUEST_BYTES } from './host/outbound-fetch.js'
import { OUTBOUND_ANNOTATION, parseOutbound } from './host/outbound-grants.js'

export const SECRETS_GUEST_PATH = '/var/openfaas/secrets'

export interface PreparedWasm {
  plan: WasmPlan
  /** instrumented bytes on disk */
  modulePath: string
  prepareUs: number
  /** the instrumentation cache was used (nothing was instrumented) */
  cached: boolean
}

/** What instrument() found, kept beside the instrumented bytes. */
type InstrumentFacts = Pick<InstrumentResult, 'interruptible' | 'stateGlobals' | 'memoryExport' | 'importedMemory' | 'snapshotSafe'>

/** Bump when the cache's file layout changes (INSTRUMENT_VERSION covers the instrumented bytes). */
const CACHE_FORMAT = 2

export function prepareWasm(artifact: FunctionArtifact, ctx: TierContext): PreparedWasm {
  const t0 = performance.now()
  const wasm = artifact.wasm
  if (!wasm) throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', `${artifact.image} is not a WebAssembly artifact`)
  const format = coreFormat(wasm.format, wasm.modulePath)
  if (format === 'wasi-command' && artifact.stateMode === 'reuse') {
    throw new KindlingError('KINDLING_ERR_INVALID_LABEL', 'com.kindling.state=reuse needs a handler that can be called again (AssemblyScript); a WASI command runs main once per instance')
  }
  const maxMemoryPages = memoryPagesFor(artifact.memoryBytes)
  const fuel = ctx.settings.interruptFuel
  const cacheKey = createHash('sha256').update(JSON.stringify({ c: CACHE_FORMAT, v: INSTRUMENT_VERSION, d: wasm.digest, maxMemoryPages, fuel })).digest('hex').slice(0, 32)
  const cacheDir = path.join(ctx.dataDir, 'cache', 'wasm')
  const modulePath = path.join(cacheDir, `${cacheKey}.wasm`)
  const factsPath = path.join(cacheDir, `${cacheKey}.json`)

  // the facts file is written after the bytes: when it is there, both are complete
  let facts = readFacts(factsPath, modulePath)
  const cached = facts !== undefined
  if (!facts) {
    let result
    try {
      result = instrument(fs.readFileSync(wasm.modulePath), { interrupt: true, fuel, memoryMaxPages: maxMemoryPages })
    } catch (e) {
      if (e instanceof MemoryTooSmallError) throw new KindlingError('KINDLING_ERR_MEMORY_TOO_SMALL', e.message)
      if (e instanceof WasmFormatError) throw new KindlingError('KINDLING_ERR_WASM_INVALID', `kindling cannot instrument the module: ${e.message}`)
      throw e
    }
    facts = { interruptible: result.interruptible, stateGlobals: result.stateGlobals, memoryExport: result.memoryExport, importedMemory: result.importedMemory, snapshotSafe: result.snapshotSafe }
    writeAtomic(modulePath, result.bytes)
    writeAtomic(factsPath, Buffer.from(JSON.stringify(facts)))
  }

  const plan: WasmPlan = {
    key: artifact.key,
    version: artifact.version,
    format,
    functionName: artifact.name,
    argv: artifact.envProcess ? artifact.envProcess.split(/\s+/).filter(Boolean) : [artifact.name],
    envVars: artifact.envVars,
    stateMode: artifact.stateMode,
    resetMode: wasm.resetMode,
    prewarm: wasm.prewarm,
    interruptible: facts.interruptible,
    fuel,
    stateGlobals: facts.stateGlobals,
    memoryExport: facts.memoryExport,
    importedMemory: facts.importedMemory
      ? { module: facts.importedMemory.module, field: facts.importedMemory.field, initial: facts.importedMemory.limits.min, maximum: facts.importedMemory.limits.max ?? maxMemoryPages }
      : undefined,
    maxMemoryPages,
    snapshotSafe: facts.snapshotSafe,
    maxOutputBytes: ctx.settings.maxBodyBytes,
    instantiateTimeoutMs: artifact.timeoutMs,
    preopens: secretPreopens(artifact, ctx),
    // key-value state and variables (issue 13, items 2-3)
    kv: kvPlanFor(artifact, ctx),
    variables: variablesFor(artifact, ctx),
    // outbound HTTP (issue 13 item 1): validated at deploy (runtime/spec.ts)
    outbound: outboundPlanOf(artifact, ctx),
  }
  return { plan, modulePath, prepareUs: (performance.now() - t0) * 1000, cached }
}

/**
 * The format the upload found. An artifact made without the registry (benchmarks, the process
 * tier's warm-up) may leave it out: then the module is compiled here once to find it.
 */
function coreFormat(format: WasmFormat | undefined, modulePath: string): Exclude<WasmFormat, 'component'> {
  if (format === 'component') throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', 'a WebAssembly component is not a core module')
  return format ?? detectCoreFormat(compileModule(fs.readFileSync(modulePath)))
}

function readFacts(factsPath: string, modulePath: string): InstrumentFacts | undefined {
  try {
    if (!fs.existsSync(modulePath)) return undefined
    return JSON.parse(fs.readFileSync(factsPath, 'utf8')) as InstrumentFacts
  } catch {
    // missing or torn (an older kindling, a crash between the two writes): instrument again
    return undefined
  }
}

/** outbound HTTP (issue 13 item 1): the grants of com.kindling.outbound and the response cap. */
export function outboundPlanOf(artifact: FunctionArtifact, ctx: TierContext): OutboundPlan {
  return { patterns: parseOutbound(artifact.annotations[OUTBOUND_ANNOTATION]), maxResponseBytes: ctx.settings.outboundMaxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, maxRequestBytes: ctx.settings.outboundMaxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES }
}

/** The deployment's secrets as a read-only directory at /var/openfaas/secrets (none: no preopen). */
export function secretPreopens(artifact: FunctionArtifact, ctx: TierContext): PlannedPreopen[] {
  if (!artifact.secrets.length) return []
  const files: Record<string, string> = {}
  for (const name of artifact.secrets) {
    const value = ctx.readSecret(artifact.namespace, name)
    if (!value) throw new KindlingError('KINDLING_ERR_SECRET_NOT_FOUND', `secret ${name} does not exist in namespace ${artifact.namespace}`)
    files[name] = value.toString('base64')
  }
  return [{ guestPath: SECRETS_GUEST_PATH, files }]
}

/** Writes a private (0600) file whole, in a 0700 folder made if needed. */
export function writeAtomic(file: string, bytes: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  writePrivateAtomic(file, bytes)
}
