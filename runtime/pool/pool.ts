// The pool of one function version: keeps `desired` warm sandboxes, hands an idle one to each
// call, starts more (up to max) under load, queues calls beyond that up to a bounded depth and
// answers 429 past it. A sandbox that dies, or one from a tier whose sandboxes are single-use, is
// replaced in the background. The pool never looks inside a tier.
import { EventEmitter } from 'node:events'
import { KindlingError } from '../errors.js'
import type { CallRequest, CancelSignal, InvokeRequest, InvokeResult, IsolationTier, Prepared, Sandbox, StartupTimings } from '../../isolation/tier.js'

export interface PoolLimits {
  /** warm sandboxes kept ready (replicas) */
  desired: number
  /** most sandboxes at once (com.openfaas.scale.max) */
  max: number
  /** calls that may wait when all max sandboxes are busy */
  queueDepth: number
  /** extra sandboxes (above desired) idle this long are disposed */
  idleReapMs: number
  /** a call's run time limit; its deadline is set when it starts on a sandbox */
  timeoutMs: number
  /** how long a call may wait for a free or new sandbox (scale from zero included) */
  queueWaitMs: number
  /** sandboxes started at once: a large replica count fills step by step, not all in one go */
  startConcurrency: number
}

export interface ColdStart {
  sandboxId: string
  startup: StartupTimings
  /** the spawn was on a call's critical path (no warm sandbox was free) */
  onCriticalPath: boolean
}

interface Waiter {
  resolve(sb: Sandbox): void
  reject(e: Error): void
  timer?: NodeJS.Timeout
}

const cancelled = (label: string) => new KindlingError('KINDLING_ERR_CALL_CANCELLED', `the client of a call to ${label} hung up while the call waited for a sandbox`)

interface Slot {
  sandbox: Sandbox
  idleSince: number
}

let sandboxSeq = 0

export class FunctionPool extends EventEmitter {
  private readonly slots = new Map<Sandbox, Slot>()
  private readonly idle: Sandbox[] = []
  private readonly waiters: Waiter[] = []
  private starting = 0
  private busy = 0
  private closed = false
  private spawnFailures = 0
  /** busy or starting sandboxes above a lowered desired count: disposed when they come back, not kept warm */
  private dropOnReturn = 0
  private retryTimer: NodeJS.Timeout | undefined
  private readonly drained: Promise<void>
  private resolveDrained!: () => void
  /** Date.now() of the last call that started */
  lastCallAt = Date.now()
  callsStarted = 0

  constructor(
    readonly tier: IsolationTier,
    readonly prepared: Prepared,
    private limits: PoolLimits,
    private readonly label: string,
  ) {
    super()
    this.drained = new Promise((res) => (this.resolveDrained = res))
    this.fill()
  }

  /** warm sandboxes alive now (idle + busy) */
  get available(): number {
    let n = 0
    for (const s of this.slots.keys()) if (s.alive) n++
    return n
  }

  get desired(): number {
    return this.limits.desired
  }

  get stats(): { available: number; idle: number; busy: number; starting: number; queued: number; desired: number; max: number } {
    return { available: this.available, idle: this.idle.length, busy: this.busy, starting: this.starting, queued: this.waiters.length, desired: this.limits.desired, max: this.limits.max }
  }

  setLimits(next: Partial<PoolLimits>): void {
    const lowered = next.desired !== undefined && next.desired < this.limits.desired
    this.limits = { ...this.limits, ...next }
    this.fill()
    this.trimIdle(Date.now(), true)
    // a scale-down is meant now, not after the idle reaper's delay
    this.dropOnReturn = lowered ? Math.max(0, this.slots.size + this.starting - this.limits.desired) : 0
  }

  /** Runs one call on a sandbox of this pool. */
  async invoke(req: CallRequest, signal: CancelSignal): Promise<InvokeResult> {
    this.lastCallAt = Date.now()
    this.callsStarted++
    let sandbox = this.takeIdle()
    if (sandbox === undefined) {
      sandbox = await this.acquireSlow(signal)
      if (req.span) req.span.waitedFor = sandbox.startup
    }
    if (req.span) req.span.sandboxId = sandbox.id
    // the deadline is computed once, here: the timeout counts from the moment the call runs, not
    // while it waited for a sandbox; the sandbox gets its own request, the caller's stays as it was
    // (a literal of fixed shape: a spread costs ~0.8 us a call)
    const call: InvokeRequest = { callId: req.callId, method: req.method, path: req.path, query: req.query, headers: req.headers, body: req.body, deadline: Date.now() + this.limits.timeoutMs }
    this.busy++
    let result: InvokeResult
    try {
      result = await sandbox.invoke(call, signal)
    } catch (e) {
      this.busy--
      this.release(sandbox)
      throw e
    }
    this.busy--
    this.release(sandbox)
    return result
  }

  /** An idle sandbox that is still alive; dead ones (their host died while idle) are replaced. */
  private takeIdle(): Sandbox | undefined {
    let sb = this.idle.pop()
    if (sb === undefined || sb.alive) return sb
    while (sb && !sb.alive) {
      this.remove(sb, 'failed')
      sb = this.idle.pop()
    }
    this.fill()
    return sb
  }

  private acquireSlow(signal: CancelSignal): Promise<Sandbox> {
    if (signal.aborted) return Promise.reject(cancelled(this.label))
    if (this.closed) return Promise.reject(new KindlingError('KINDLING_ERR_FUNCTION_REMOVED', `${this.label} was removed`))
    if (this.starting > this.waiters.length) {
      // a sandbox is already starting and nobody has claimed it: wait for that one
    } else if (this.slots.size + this.starting < this.limits.max) {
      // at the start limit the call waits: the next start that ends serves the waiters
      if (this.starting < this.limits.startConcurrency) this.spawnOne()
    } else if (this.waiters.length >= this.limits.queueDepth) {
      return Promise.reject(new KindlingError('KINDLING_ERR_OVERLOADED', `${this.label} has ${this.limits.max} busy sandboxes and ${this.waiters.length} calls waiting`))
    }
    return new Promise<Sandbox>((resolve, reject) => {
      // a queued call whose client left is dropped from the queue: it would only hold a sandbox
      const onAbort = () => drop(cancelled(this.label))
      const done = () => signal.removeEventListener('abort', onAbort)
      const w: Waiter = {
        resolve: (sb) => (done(), resolve(sb)),
        reject: (e) => (done(), reject(e)),
      }
      const drop = (e: Error) => {
        const i = this.waiters.indexOf(w)
        if (i >= 0) this.waiters.splice(i, 1)
        clearTimeout(w.timer)
        w.reject(e)
      }
      const wait = this.limits.queueWaitMs
      w.timer = setTimeout(() => drop(new KindlingError('KINDLING_ERR_TIMEOUT', `the call waited ${wait} ms for a free sandbox of ${this.label}`)), wait)
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(w)
    })
  }

  /** Returns a sandbox after a call: reuse it, or replace it when it cannot be reused. */
  private release(sandbox: Sandbox): void {
    if (this.closed || !sandbox.alive || !this.tier.capabilities.reusable || this.slots.size > this.limits.max) {
      // a single-use sandbox that ended after its call was not a failure
      this.remove(sandbox, sandbox.alive || !this.tier.capabilities.reusable ? 'replaced' : 'failed')
      this.fill()
      this.serveWaiters()
      return
    }
    // the sandbox cleans itself after answering (in its own thread or process): it is ready now
    this.giveBack(sandbox)
  }

  private giveBack(sandbox: Sandbox): void {
    if (!sandbox.alive) {
      this.remove(sandbox, 'failed')
      this.fill()
      return
    }
    const w = this.waiters.shift()
    if (w) {
      if (w.timer) clearTimeout(w.timer)
      w.resolve(sandbox)
      return
    }
    if (this.dropOnReturn > 0 && this.slots.size > this.limits.desired) {
      this.dropOnReturn--
      this.remove(sandbox, 'scale-down')
      return
    }
    const slot = this.slots.get(sandbox)
    if (slot) slot.idleSince = Date.now()
    this.idle.push(sandbox)
  }

  private remove(sandbox: Sandbox, reason: 'replaced' | 'failed' | 'scale-down' | 'idle' | 'undeploy' | 'shutdown'): void {
    if (!this.slots.delete(sandbox)) return
    const i = this.idle.indexOf(sandbox)
    if (i >= 0) this.idle.splice(i, 1)
    sandbox.dispose(reason).catch(() => {})
    this.emit('disposed', reason, sandbox.id)
    this.checkDrained()
  }

  private spawnOne(): void {
    this.starting++
    const sandboxId = `${this.label}-${(++sandboxSeq).toString(36)}`
    this.tier.spawn(this.prepared, { sandboxId }).then(
      (sandbox) => {
        this.starting--
        this.spawnFailures = 0
        if (this.closed) {
          sandbox.dispose('undeploy').catch(() => {})
          this.checkDrained()
          return
        }
        this.slots.set(sandbox, { sandbox, idleSince: Date.now() })
        this.emit('cold-start', { sandboxId, startup: sandbox.startup, onCriticalPath: this.waiters.length > 0 } satisfies ColdStart)
        this.giveBack(sandbox)
        // a start slot is free: go on filling up to desired and serving waiters
        this.fill()
        this.serveWaiters()
      },
      (e: unknown) => {
        this.starting--
        this.spawnFailures++
        const err = e instanceof KindlingError ? e : new KindlingError('KINDLING_ERR_SANDBOX_FAILED', (e as Error)?.message ?? String(e))
        this.emit('spawn-failed', err)
        // a call waiting for this sandbox gets the error instead of waiting for its timeout
        if (this.slots.size + this.starting < this.waiters.length || this.slots.size === 0) {
          const w = this.waiters.shift()
          if (w) {
            if (w.timer) clearTimeout(w.timer)
            w.reject(err)
          }
        }
        this.checkDrained()
        this.scheduleRetry()
      },
    )
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return
    const delay = Math.min(30_000, 100 * 2 ** Math.min(this.spawnFailures, 8))
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.fill()
      // calls that waited for a start slot get one
      this.serveWaiters()
    }, delay)
    this.retryTimer.unref()
  }

  /** Starts sandboxes until `desired` are alive or starting (not while spawns keep failing). */
  private fill(): void {
    if (this.closed || this.retryTimer) return
    let alive = 0
    for (const s of this.slots.keys()) if (s.alive) alive++
    for (let n = alive + this.starting; n < this.limits.desired && n < this.limits.max && this.starting < this.limits.startConcurrency; n++) this.spawnOne()
  }

  private serveWaiters(): void {
    if (this.closed) return
    while (this.waiters.length > this.starting && this.slots.size + this.starting < this.limits.max && this.starting < this.limits.startConcurrency) this.spawnOne()
  }

  /** Disposes idle sandboxes above `desired` that have been idle for idleReapMs (or all, when forced). */
  trimIdle(now = Date.now(), force = false): void {
    let excess = this.slots.size - this.limits.desired
    for (let i = 0; i < this.idle.length && excess > 0; ) {
      const sb = this.idle[i]!
      const slot = this.slots.get(sb)
      if (force || !slot || now - slot.idleSince >= this.limits.idleReapMs) {
        this.remove(sb, 'scale-down')
        excess--
      } else {
        i++
      }
    }
  }

  /** Stops taking calls, fails queued ones, waits for running ones, disposes every sandbox. */
  async close(reason: 'undeploy' | 'shutdown' = 'undeploy'): Promise<void> {
    if (this.closed) return this.drained
    this.closed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer)
      w.reject(new KindlingError('KINDLING_ERR_FUNCTION_REMOVED', `${this.label} was removed while the call waited`))
    }
    for (const sb of [...this.idle]) this.remove(sb, reason)
    this.checkDrained()
    return this.drained
  }

  private checkDrained(): void {
    if (this.closed && this.busy === 0 && this.starting === 0) {
      for (const sb of [...this.slots.keys()]) this.remove(sb, 'undeploy')
      if (this.slots.size === 0) this.resolveDrained()
    }
  }
}
