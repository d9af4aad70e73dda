// The `thread` sandbox kind inside an app host: per function, the module compiled once in this
// process and handed to each of its workers; per sandbox, one worker thread (host-sandbox.ts).
import fs from 'node:fs'
import { compileModule } from '../wasm/compile.js'
import type { HostFunction, LoadRequest } from '../apphost/host-kinds.js'
import type { PlanWithModule } from '../wasm/plan.js'
import { ThreadSandboxHost } from './host-sandbox.js'
import { WorkerSpares } from './worker-pools.js'

/** What the gateway's thread tier sends in a LOAD frame besides the plan and module path. */
export interface ThreadLoadOptions {
  /** V8 heap limit of each worker (resourceLimits.maxOldGenerationSizeMb) */
  heapMiB: number
  graceMs: number
  /** booted workers kept ahead per heap limit in this app host */
  spareWorkers: number
}

// one set of spare workers per app host, shared by its thread functions
let spares: WorkerSpares | undefined
let lostWorkers = 0

/** Workers that died or were terminated in this app host (for tests and stats). */
export function threadHostStats(): { lostWorkers: number; spareWorkers: number; workersStarted: number } {
  return { lostWorkers, spareWorkers: spares?.size ?? 0, workersStarted: spares?.started ?? 0 }
}

export function loadThreadFunction(req: LoadRequest): HostFunction {
  const { plan, modulePath, heapMiB, graceMs, spareWorkers } = req as unknown as LoadRequest & PlanWithModule & ThreadLoadOptions
  // compiled once here; every worker receives this Module by structured clone (no recompile)
  const module = compileModule(fs.readFileSync(modulePath))
  spares ??= new WorkerSpares(spareWorkers)
  spares.setCount(spareWorkers)
  spares.addUser(heapMiB, { module, plan })
  const pool = spares
  const sandboxes = new Map<string, ThreadSandboxHost>()
  const info = {
    fnId: req.fnId,
    module,
    plan,
    heapMiB,
    graceMs,
    spares: pool,
    onWorkerLost: (reason: string) => {
      lostWorkers++
      process.stderr.write(`thread tier: a worker of ${plan.key} ${reason}; replaced\n`)
    },
  }
  const get = (id: string) => {
    const sb = sandboxes.get(id)
    if (!sb) throw new Error(`no sandbox ${id} for ${plan.key}`)
    return sb
  }
  let unloaded = false
  return {
    async spawn(id) {
      const sb = new ThreadSandboxHost(info)
      sandboxes.set(id, sb)
      try {
        return await sb.ready()
      } catch (e) {
        sandboxes.delete(id)
        sb.dispose()
        throw e
      }
    },
    invoke: (id, r) => get(id).invoke(r),
    cancel: (id) => sandboxes.get(id)?.cancel(),
    kill: (id) => get(id).kill(),
    dispose(id) {
      sandboxes.get(id)?.dispose()
      sandboxes.delete(id)
    },
    unload() {
      for (const sb of sandboxes.values()) sb.dispose()
      sandboxes.clear()
      if (!unloaded) pool.removeUser(heapMiB)
      unloaded = true
    },
    get sandboxCount() {
      return sandboxes.size
    },
  }
}
