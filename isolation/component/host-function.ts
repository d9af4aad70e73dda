// One component version loaded in an app host: its bindings and compiled core modules, and one
// ComponentSandboxCore per sandbox.
import { type HostFunction, instanceHostFunction, type LoadRequest, pollCancels } from '../apphost/host-kinds.js'
import type { ComponentPlan } from './plan.js'
import { ComponentFunction } from './runner.js'

export async function loadComponentFunction(req: LoadRequest): Promise<HostFunction> {
  const { plan } = req as unknown as LoadRequest & { plan: ComponentPlan }
  const fn = await ComponentFunction.load(plan)
  return instanceHostFunction(plan.key, (cancelFlag) => fn.createSandbox(cancelFlag, pollCancels))
}
