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
