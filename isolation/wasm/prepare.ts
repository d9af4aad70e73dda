// Turns an uploaded module into something every wasm-running tier can use: the instrumented bytes
// (cached on disk, content-addressed by the module digest and the instrumentation options), the
// compiled module and the plan that travels to app hosts and workers.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { KindlingError } from '../errors.js'
import type { FunctionArtifact, TierContext } from '../tier.js'
import { WasmFormatError } from './binary/bytes.js'
import { INSTRUMENT_VERSION, instrument, MemoryTooSmallError, memoryPagesFor } from './binary/instrument.js'
import { compileModule, detectCoreFormat } from './formats.js'
import type { WasmPlan } from './plan.js'
import type { PlannedPreopen } from './wasi-fs.js'

export const SECRETS_GUEST_PATH = '/var/openfaas/secrets'

export interface PreparedWasm {
  plan: WasmPlan
  /** instrumented bytes on disk */
  modulePath: string
  /** the instrumented module compiled in this process */
  module: WebAssembly.Module
  prepareUs: number
}


export function prepareWasm(artifact: FunctionArtifact, ctx: TierContext): PreparedWasm {
  const t0 = performance.now()
  if (!artifact.modulePath || !artifact.digest) throw new KindlingError('KINDLING_ERR_INVALID_IMAGE', `${artifact.image} is not a WebAssembly artifact`)
  const original = fs.readFileSync(artifact.modulePath)
  const format = detectCoreFormat(compileModule(original))
  if (format === 'wasi-command' && artifact.stateMode === 'reuse') {
    throw new KindlingError('KINDLING_ERR_INVALID_LABEL', 'com.kindling.state=reuse needs a handler that can be called again (AssemblyScript); a WASI command runs main once per instance')
  }
  const maxMemoryPages = memoryPagesFor(artifact.memoryBytes)
  const fuel = ctx.settings.interruptFuel
  const cacheKey = createHash('sha256').update(JSON.stringify({ v: INSTRUMENT_VERSION, d: artifact.digest, maxMemoryPages, fuel })).digest('hex').slice(0, 32)
  const cacheDir = path.join(ctx.dataDir, 'cache', 'wasm')
  const modulePath = path.join(cacheDir, `${cacheKey}.wasm`)

  let result
  try {
    result = instrument(original, { interrupt: true, fuel, memoryMaxPages: maxMemoryPages })
  } catch (e) {
    if (e instanceof MemoryTooSmallError) throw new KindlingError('KINDLING_ERR_MEMORY_TOO_SMALL', e.message)
    if (e instanceof WasmFormatError) throw new KindlingError('KINDLING_ERR_WASM_INVALID', `kindling cannot instrument the module: ${e.message}`)
    throw e
  }
  if (!fs.existsSync(modulePath)) writeAtomic(modulePath, result.bytes)
  const module = compileModule(result.bytes)

  const preopens = secretPreopens(artifact, ctx)

  const plan: WasmPlan = {
    key: artifact.key,
    version: artifact.version,
    format,
    functionName: artifact.name,
    argv: artifact.envProcess ? artifact.envProcess.split(/\s+/).filter(Boolean) : [artifact.name],
    envVars: artifact.envVars,
    stateMode: artifact.stateMode,
    resetMode: artifact.resetMode,
    prewarm: artifact.prewarm,
    interruptible: result.interruptible,
    fuel,
    stateGlobals: result.stateGlobals,
    memoryExport: result.memoryExport,
    importedMemory: result.importedMemory
      ? { module: result.importedMemory.module, field: result.importedMemory.field, initial: result.importedMemory.limits.min, maximum: result.importedMemory.limits.max ?? maxMemoryPages }
      : undefined,
    maxMemoryPages,
    snapshotSafe: result.snapshotSafe,
    maxOutputBytes: ctx.settings.maxBodyBytes,
    instantiateTimeoutMs: artifact.timeoutMs,
    preopens,
  }
  return { plan, modulePath, module, prepareUs: (performance.now() - t0) * 1000 }
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

/** Writes a file so that readers see either nothing or all of it. */
export function writeAtomic(file: string, bytes: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
  try {
    const fd = fs.openSync(tmp, 'w')
    try {
      fs.writeSync(fd, bytes)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  } catch (e) {
    // a full disk: the partial file must not keep the space once there is some again
    fs.rmSync(tmp, { force: true })
    throw e
  }
}
