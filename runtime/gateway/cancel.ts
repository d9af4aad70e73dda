// The cancel signal of one synchronous call: fires when its client hangs up. An AbortController per
// call (its EventTarget, listener bookkeeping) was 3-5% of the gateway's CPU under load
// (bench/README.md, issue 17); the tiers need only `aborted` and abort listeners.
import type { CancelSignal } from '../pool/dispatcher.js'

export class CallCancel implements CancelSignal {
  aborted = false
  private listeners: (() => void)[] | undefined

  /** Like AbortSignal's: a listener added after the abort is not called; every listener runs once at most. */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (!this.aborted) (this.listeners ??= []).push(listener)
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const l = this.listeners
    const i = l ? l.indexOf(listener) : -1
    if (i >= 0) l!.splice(i, 1)
  }

  abort(): void {
    if (this.aborted) return
    this.aborted = true
    const l = this.listeners
    this.listeners = undefined
    for (const f of l ?? []) {
      try {
        f()
      } catch (e) {
        // the other listeners still run (their calls must stop too); a hang-up never fails the gateway
        process.stderr.write(`kindling: a cancel listener failed: ${(e as Error).stack ?? String(e)}\n`)
      }
    }
  }
}
