// Function-to-function calls inside one process (SAND's local bus, taken to its limit): a wasm
// function imports `kindling.call` and calls another function of the same application
// synchronously. The callee runs in the same app host (or the gateway, for `inline`) on a sandbox
// of its own, with fresh state and the caller's deadline; nothing crosses a process boundary.
//
//   kindling.call(name_ptr, name_len, body_ptr, body_len, out_ptr, out_cap, out_len_ptr) -> status
//     Calls the function named by the UTF-8 bytes at name_ptr ("fn", or "fn.namespace") with the
//     body bytes. Copies up to out_cap bytes of the response body to out_ptr and writes its full
//     length (u32) to out_len_ptr. Returns the HTTP status, or a negative CHAIN_ERROR.
//   kindling.result_read(ptr, offset, len) -> copied
//     Copies bytes of the last response from `offset` on, for bodies longer than out_cap.
import type { WasmFunction } from './runner.js'

export const CHAIN_MODULE = 'kindling'
export const CHAIN_IMPORT_NAMES: ReadonlySet<string> = new Set(['call', 'result_read'])

export const CHAIN_ERROR = {
  /** no function of that name runs in this application */
  NOT_FOUND: -1,
  /** calls nested deeper than MAX_CHAIN_DEPTH */
  TOO_DEEP: -2,
  /** a pointer or length outside the caller's memory */
  BAD_ARGUMENTS: -3,
  /**
   * the caller's tier runs each sandbox in a thread or process of its own (thread, process), so no
   * other function of the application is in reach: chained calls need the wasm or inline tier
   */
  TIER_HAS_NO_CHAIN: -4,
} as const

export const MAX_CHAIN_DEPTH = 8

/** The functions one application runs in this process, by "name.namespace" (latest version wins). */
export class ChainDirectory {
  private readonly byKey = new Map<string, WasmFunction>()
  /** nesting of chained calls on this thread right now */
  depth = 0

  register(fn: WasmFunction): void {
    fn.directory = this
    this.byKey.set(fn.plan.key, fn)
  }

  unregister(fn: WasmFunction): void {
    if (this.byKey.get(fn.plan.key) === fn) this.byKey.delete(fn.plan.key)
  }

  resolve(name: string, callerNamespace: string): WasmFunction | undefined {
    return this.byKey.get(name.includes('.') ? name : `${name}.${callerNamespace}`)
  }
}
