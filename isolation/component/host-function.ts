// One component version loaded in an app host: its bindings and compiled core modules, and one
// ComponentSandboxCore per sandbox.
import type { HostFunction, LoadRequest } from '../apphost/host-kinds.js'
import type { ComponentPlan } from './plan.js'
import { ComponentFunction, type ComponentSandboxCore } from './runner.js'

export async function loadComponentFunction(req: LoadRequest): Promise<HostFunction> {
  const { plan } = req as unknown as LoadRequest & { plan: ComponentPlan }
  const fn = await ComponentFunction.load(plan)
  const sandboxes = new Map<string, ComponentSandboxCore>()
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
    invoke: (id, r) => get(id).run(r),
    cleanup: (id) => sandboxes.get(id)?.cleanup(),
    dispose(id) {
      sandboxes.get(id)?.dispose()
      sandboxes.delete(id)
    },
    unload() {
      for (const sb of sandboxes.values()) sb.dispose()
      sandboxes.clear()
    },
    get sandboxCount() {
      return sandboxes.size
    },
  }
}
