// Builds WasmFunctions for runner tests the same way the tiers do (instrumented, with a plan).
import fs from 'node:fs'
import { instrument, memoryPagesFor } from '../../../isolation/wasm/binary/instrument.js'
import { compileModule, detectCoreFormat } from '../../../isolation/wasm/formats.js'
import type { WasmPlan } from '../../../isolation/wasm/plan.js'
import { WasmFunction } from '../../../isolation/wasm/runner.js'
import type { InvokeRequest } from '../../../isolation/tier.js'
import { exampleModule } from '../../helpers/kindling.js'

export function wasmFunction(source: string | Uint8Array, plan: Partial<WasmPlan> = {}, memoryBytes = 16 * 1024 * 1024): WasmFunction {
  const bytes = typeof source === 'string' ? fs.readFileSync(exampleModule(source)) : source
  const format = detectCoreFormat(compileModule(bytes))
  const maxMemoryPages = memoryPagesFor(memoryBytes)
  // the fuel is compiled into the module: the plan's value must be the one instrumented with
  const fuel = plan.fuel ?? 4096
  const ins = instrument(bytes, { interrupt: true, fuel, memoryMaxPages: maxMemoryPages })
  return new WasmFunction(new WebAssembly.Module(ins.bytes as Uint8Array<ArrayBuffer>), {
    key: 'test.ns', version: '1', format, functionName: 'test', argv: ['test'], envVars: {},
    stateMode: 'fresh', resetMode: 'snapshot', prewarm: true, interruptible: true, fuel,
    stateGlobals: ins.stateGlobals, memoryExport: ins.memoryExport, maxMemoryPages, snapshotSafe: ins.snapshotSafe,
    maxOutputBytes: 1 << 20, preopens: [], ...plan,
  })
}

export function request(body = '', extra: Partial<InvokeRequest> = {}): InvokeRequest {
  return { callId: 'call-1', method: 'POST', path: '/', query: '', headers: { 'content-type': 'text/plain' }, body: Buffer.from(body), deadline: Date.now() + 2000, ...extra }
}
