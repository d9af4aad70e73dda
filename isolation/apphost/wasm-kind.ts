// The `wasm` sandbox kind inside an app host: a compiled module per function version, one
// WasmSandboxCore (one live instance) per sandbox.
import fs from 'node:fs'
import type { PlanWithModule } from '../wasm/plan.js'
import { ChainDirectory } from '../wasm/chain.js'
import { WasmFunction, type WasmSandboxCore } from '../wasm/runner.js'
import type { HostFunction, LoadRequest } from './host-kinds.js'

/** An app host runs one application: its functions can call each other with kindling.call. */
const directory = new ChainDirectory()

export function loadWasmFunction(req: LoadRequest): HostFunction {
  const { plan, modulePath } = req as unknown as LoadRequest & PlanWithModule
  const module = new WebAssembly.Module(fs.readFileSync(modulePath))
  const fn = new WasmFunction(module, plan)
  directory.register(fn)
  const sandboxes = new Map<string, WasmSandboxCore>()
  const get = (id: string) => {
    const sb = sandboxes.get(id)
    if (!sb) throw new Error(`no sandbox ${id} for ${plan.key}`)
    return sb
  }
  return {
    spawn(id) {
      const sb = fn.createSandbox()
      sandboxes.set(id, sb)
      return sb.ensureInstance()
    },
    invoke: (id, req) => get(id).run(req),
    cleanup: (id) => sandboxes.get(id)?.cleanup(),
    dispose(id) {
      sandboxes.get(id)?.dispose()
      sandboxes.delete(id)
    },
    unload() {
      directory.unregister(fn)
      for (const sb of sandboxes.values()) sb.dispose()
      sandboxes.clear()
    },
    get sandboxCount() {
      return sandboxes.size
    },
  }
}
