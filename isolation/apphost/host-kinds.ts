// What an app host can run. Each sandbox kind (wasm instances, worker threads, ...) registers a
// loader here; host-main.ts dispatches frames to the function objects it returns.
import type { InvokeRequest, InvokeResult } from '../tier.js'
import { FLAG_CANCELLED } from '../wasm/cancel-flag.js'

/** One function loaded in this app host. */
export interface HostFunction {
  /** makes a sandbox; returns microseconds spent instantiating */
  spawn(sandboxId: string): number | Promise<number>
  invoke(sandboxId: string, req: InvokeRequest): InvokeResult | Promise<InvokeResult>
  /** the caller of the sandbox's running call hung up: stop it as at its deadline (kinds that can) */
  cancel?(sandboxId: string): void
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

/**
 * A sync sandbox runs on the app host's only thread, so no frame is read while it runs: its
 * interrupt check calls this (now and then) to read the socket for a CANCEL. host-main sets it.
 */
let cancelPoll: () => void = () => {}
export function setCancelPoll(poll: () => void): void {
  cancelPoll = poll
}
export const pollCancels = (): void => cancelPoll()

/** What a sync in-process sandbox (a wasm instance, a component instance) does for a host function. */
export interface InstanceSandbox {
  ensureInstance(): number
  run(req: InvokeRequest): InvokeResult
  cleanup(): void
  dispose(): void
}

/**
 * A HostFunction over sandboxes that live in the app host's own thread: a table of them by id,
 * each made by `create` with its cancel flag (a kind that reads it raises the flag's word to stop
 * a call); `onUnload` runs before they are dropped.
 */
export function instanceHostFunction(key: string, create: (cancelFlag: Int32Array) => InstanceSandbox, onUnload?: () => void): HostFunction {
  const sandboxes = new Map<string, InstanceSandbox>()
  const flags = new Map<string, Int32Array>()
  const get = (id: string) => {
    const sb = sandboxes.get(id)
    if (!sb) throw new Error(`no sandbox ${id} for ${key}`)
    return sb
  }
  return {
    spawn(id) {
      const flag = new Int32Array(1)
      const sb = create(flag)
      sandboxes.set(id, sb)
      flags.set(id, flag)
      return sb.ensureInstance()
    },
    invoke: (id, req) => get(id).run(req),
    cancel(id) {
      const flag = flags.get(id)
      if (flag) flag[0] = FLAG_CANCELLED
    },
    cleanup: (id) => sandboxes.get(id)?.cleanup(),
    dispose(id) {
      sandboxes.get(id)?.dispose()
      sandboxes.delete(id)
      flags.delete(id)
    },
    unload() {
      onUnload?.()
      for (const sb of sandboxes.values()) sb.dispose()
      sandboxes.clear()
      flags.clear()
    },
    get sandboxCount() {
      return sandboxes.size
    },
  }
}
