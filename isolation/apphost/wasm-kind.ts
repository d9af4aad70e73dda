// The `wasm` sandbox kind inside an app host: a compiled module per function version, one
// WasmSandboxCore (one live instance) per sandbox.
import fs from 'node:fs'
import { compileModule } from '../wasm/compile.js'
import type { PlanWithModule } from '../wasm/plan.js'
import { ChainDirectory } from '../wasm/chain.js'
import { WasmFunction } from '../wasm/runner.js'
import { type HostFunction, instanceHostFunction, type LoadRequest, pollCancels } from './host-kinds.js'

/** An app host runs one application: its functions can call each other with kindling.call. */
const directory = new ChainDirectory()

export function loadWasmFunction(req: LoadRequest): HostFunction {
  const { plan, modulePath, noChain } = req as unknown as LoadRequest & PlanWithModule & { noChain?: boolean }
  const module = compileModule(fs.readFileSync(modulePath))
  const fn = new WasmFunction(module, plan)
  // a process-tier host runs one sandbox of one function: no other function is in reach, and
  // kindling.call says so (TIER_HAS_NO_CHAIN) instead of "not found"
  if (noChain) return instanceHostFunction(plan.key, (cancelFlag) => fn.createSandbox(cancelFlag, pollCancels), () => {})
  directory.register(fn)
  return instanceHostFunction(plan.key, (cancelFlag) => fn.createSandbox(cancelFlag, pollCancels), () => directory.unregister(fn))
}
