// What an app host can run. Each sandbox kind (wasm instances, worker threads, ...) registers a
// loader here; host-main.ts dispatches frames to the function objects it returns.
import type { InvokeRequest, InvokeResult } from '../tier.js'

/** One function loaded in this app host. */
export interface HostFunction {
  /** makes a sandbox; returns microseconds spent instantiating */
  spawn(sandboxId: string): number | Promise<number>
  invoke(sandboxId: string, req: InvokeRequest): InvokeResult | Promise<InvokeResult>
  /** cleans a sandbox after a call, off the critical path (sync kinds only) */
  cleanup?(sandboxId: string): void
  dispose(sandboxId: string): void
  /** ends the sandbox's worker abruptly, as a crash would; kinds without one leave this out */
  kill?(sandboxId: string): void | Promise<void>
  unload(): void | Promise<void>
  /** live sandboxes */
  readonly sandboxCount: number
}

export interface LoadRequest {
  fnId: string
  kind: string
  [key: string]: unknown
}

export type HostKindLoader = (req: LoadRequest) => HostFunction | Promise<HostFunction>

const kinds = new Map<string, HostKindLoader>()

export function registerHostKind(kind: string, loader: HostKindLoader): void {
  kinds.set(kind, loader)
}

export function hostKind(kind: string): HostKindLoader | undefined {
  return kinds.get(kind)
}

/** What a sync in-process sandbox (a wasm instance, a component instance) does for a host function. */
export interface InstanceSandbox {
  ensureInstance(): number
  run(req: InvokeRequest): InvokeResult
  cleanup(): void
  dispose(): void
}

/**
 * A HostFunction over sandboxes that live in the app host's own thread: a table of them by id,
 * each made by `create`; `onUnload` runs before they are dropped.
 */
export function instanceHostFunction(key: string, create: () => InstanceSandbox, onUnload?: () => void): HostFunction {
  const sandboxes = new Map<string, InstanceSandbox>()
  const get = (id: string) => {
    const sb = sandboxes.get(id)
    if (!sb) throw new Error(`no sandbox ${id} for ${key}`)
    return sb
  }
  return {
    spawn(id) {
      const sb = create()
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
      onUnload?.()
      for (const sb of sandboxes.values()) sb.dispose()
      sandboxes.clear()
    },
    get sandboxCount() {
      return sandboxes.size
    },
  }
}
