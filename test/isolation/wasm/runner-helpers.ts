// Builds WasmFunctions for runner tests the same way the tiers do (instrumented, with a plan).
import fs from 'node:fs'
import type { WasmPlan } from '../../../isolation/wasm/plan.js'
import type { WasmFunction } from '../../../isolation/wasm/runner.js'
import { standaloneWasmFunction } from '../../../isolation/wasm/standalone.js'
import type { InvokeRequest } from '../../../isolation/tier.js'
import { exampleModule } from '../../helpers/kindling.js'

export function wasmFunction(source: string | Uint8Array, plan: Partial<WasmPlan> = {}, memoryBytes = 16 * 1024 * 1024): WasmFunction {
  const bytes = typeof source === 'string' ? fs.readFileSync(exampleModule(source)) : source
  return standaloneWasmFunction(bytes, { memoryBytes, plan })
}

export function request(body = '', extra: Partial<InvokeRequest> = {}): InvokeRequest {
  return { callId: 'call-1', method: 'POST', path: '/', query: '', headers: { 'content-type': 'text/plain' }, body: Buffer.from(body), deadline: Date.now() + 2000, ...extra }
}
