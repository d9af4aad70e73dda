// A WasmFunction built straight from module bytes, the way the tiers prepare one (instrumented,
// with a plan) but without a registry or data dir: for tests and benchmarks that drive the runner.
import { instrument, memoryPagesFor } from './binary/instrument.js'
import { compileModule } from './compile.js'
import { detectCoreFormat } from './formats.js'
import type { WasmPlan } from './plan.js'
import { WasmFunction } from './runner.js'

export interface StandaloneOptions {
  /** compile the interruption checks in (as every tier does); false measures what they cost */
  interrupt?: boolean
  /** with interrupt: false leaves the checks at loop headers only (benchmarks compare) */
  entryChecks?: boolean
  memoryBytes?: number
  plan?: Partial<WasmPlan>
}

export function standaloneWasmFunction(bytes: Uint8Array, opts: StandaloneOptions = {}): WasmFunction {
  const interrupt = opts.interrupt ?? true
  const format = detectCoreFormat(compileModule(bytes))
  const maxMemoryPages = memoryPagesFor(opts.memoryBytes ?? 16 * 1024 * 1024)
  // the fuel is compiled into the module: the plan's value must be the one instrumented with
  const fuel = opts.plan?.fuel ?? 4096
  const ins = instrument(bytes, { interrupt, fuel, memoryMaxPages: maxMemoryPages, entryChecks: opts.entryChecks })
  return new WasmFunction(compileModule(ins.bytes), {
    key: 'standalone.ns', version: '1', format, functionName: 'standalone', argv: ['standalone'], envVars: {},
    stateMode: 'fresh', resetMode: 'snapshot', prewarm: true, interruptible: ins.interruptible, fuel,
    stateGlobals: ins.stateGlobals, memoryExport: ins.memoryExport, maxMemoryPages, snapshotSafe: ins.snapshotSafe,
    maxOutputBytes: 1 << 20, preopens: [], ...opts.plan,
  })
}
