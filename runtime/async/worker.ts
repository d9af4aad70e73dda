// Runs queued asynchronous calls through the normal call path (the dispatcher), at most
// `concurrency` at once, retries the retryable ones with backoff and delivers results to their
// callbacks. It is woken when a call is accepted or finishes, and by a timer for the next retry;
// it never polls while nothing is due.
import { asKindlingError, ERROR_CONTENT_TYPE, type ErrorCode, errorBody, KindlingError } from '../errors.js'
import type { LogHub } from '../logs.js'
import type { Metrics } from '../metrics.js'
import type { CallRequest, Invoker, ResponseHeaders } from '../pool/dispatcher.js'
import type { Registry } from '../registry/registry.js'
import { CallbackSender } from './callback.js'
import type { CallbackPolicy } from './callback-policy.js'
import { DeliveryLeases, HOLD_MS } from './delivery-lease.js'
import { FairSlots } from './fair-slots.js'
import type { GroupCommit } from './group-commit.js'
import type { PendingCounts } from './pending.js'
import { backoffMs, retryAfterMs, retryPolicy, type RetryPolicy } from './retry.js'
import { type AsyncStore, type CallRow, finalState } from './store.js'

export interface WorkerSettings {
  concurrency: number
  retryDefaults: RetryPolicy
  callbackAttempts: number
  callbackTimeoutMs: number
  callbackRetryMs: number
  /** callback POSTs under way at once, all origins together */
  callbackConcurrency: number
  /** callback POSTs under way at once to one origin */
  callbackPerHost: number
  retentionMs: number
}

export interface WorkerDeps {
  store: AsyncStore
  commit: GroupCommit
  leases: DeliveryLeases
  policy: CallbackPolicy
  counts: PendingCounts
  /** what is deployed (a call's retry policy) */
  registry: Registry
  /** runs the calls: the dispatcher, or the cluster router on a gateway in a cluster */
  dispatcher: Invoker
  metrics: Metrics
  logs: LogHub
  settings: WorkerSettings
}

const PRUNE_EVERY_MS = 60_000
/** Due deliveries moved from the store to the per-origin queues in one pump (ids only). */
const LEASE_BATCH = 256
const STORE_RETRY_MS = 1_000

/** The key deliveries are shared by: the callback URL's host, whatever the scheme and port (ports are free to vary). */
function originOf(url: string): string {
  try {
    return new URL(url).hostname
  } catch {
    return url
  }
}

export class AsyncWorker {
  private running = 0
  private readonly slots: FairSlots
  private readonly sender: CallbackSender
  private pumpQueued = false
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private pruneTimer: NodeJS.Timeout | undefined
  private storeRetry: NodeJS.Timeout | undefined
  private closing = false
  private readonly inflight = new Set<Promise<void>>()
  private readonly never = new AbortController().signal

  constructor(private readonly deps: WorkerDeps) {
    this.slots = new FairSlots(deps.settings.callbackConcurrency, deps.settings.callbackPerHost)
    this.sender = new CallbackSender(deps.policy)
  }

  start(): void {
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS)
    this.pruneTimer.unref()
    this.prune()
    this.wake()
  }

  /** Something may be due: look soon (coalesced, so a burst of accepts costs one look). */
  wake(): void {
    if (this.pumpQueued || this.closing) return
    this.pumpQueued = true
    setImmediate(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  private log(key: string, text: string): void {
    this.deps.logs.write({ key, instance: 'async', stream: 'system', text })
  }

  private pump(): void {
    if (this.closing) return
    try {
      this.pumpOnce()
    } catch (e) {
      this.storeFailed(e)
    }
  }

  /** The store could not be read or written (a full disk, say): look again soon rather than die. */
  private storeFailed(e: unknown): void {
    // one line per retry period, not one per failed write
    if (this.storeRetry || this.closing) return
    process.stderr.write(`kindling: async worker: ${(e as Error).message}; trying again in ${STORE_RETRY_MS} ms\n`)
    this.storeRetry = setTimeout(() => {
      this.storeRetry = undefined
      this.pump()
    }, STORE_RETRY_MS)
    this.storeRetry.unref()
  }

  private pumpOnce(): void {
    const { store, settings } = this.deps
    const now = Date.now()
    const free = settings.concurrency - this.running
    if (free > 0) {
      for (const row of store.claimDue(now, free)) {
        this.running++
        this.deps.counts.move(row.fn_key, 'queued', 'running')
        this.track(this.run(row).catch((e: unknown) => this.rerunLater(row, e)).finally(() => this.running--))
      }
    }
    // due deliveries join their origin's line (ids only); a full batch means more may be due
    const due = this.deps.leases.holdDue(now, LEASE_BATCH)
    for (const d of due) this.slots.enqueue(originOf(d.callback_url), d.id)
    this.startReady()
    if (due.length === LEASE_BATCH) this.wake()
    this.arm(now)
  }

  /**
   * A run whose outcome could not be stored is still 'running' in the store: it goes back to the
   * queue once the store takes writes again, and runs again (at least once). Nothing accepted is lost.
   */
  private rerunLater(row: CallRow, e: unknown): void {
    this.storeFailed(e)
    setTimeout(() => {
      // when closing, the next start puts running calls back in the queue
      if (this.closing) return
      try {
        if (this.deps.store.get(row.id)?.state !== 'running') return
        this.deps.store.requeue(row.id, Date.now(), { status: null, error: 'its result could not be stored' }, false)
        this.deps.counts.move(row.fn_key, 'running', 'queued')
        this.wake()
      } catch (again) {
        this.rerunLater(row, again)
      }
    }, STORE_RETRY_MS).unref()
  }

  /** Starts the waiting deliveries that have a slot, origins in turn. */
  private startReady(): void {
    if (this.closing) return
    for (const { origin, id } of this.slots.takeReady()) {
      let row: CallRow | undefined
      try {
        row = this.deps.store.get(id)
      } catch (e) {
        // it keeps its place in the line (at the back) until the store answers again
        this.slots.end(origin)
        this.slots.enqueue(origin, id)
        this.storeFailed(e)
        continue
      }
      if (row?.state === 'delivering') this.startDelivery(row, origin)
      else this.slots.end(origin)
    }
  }

  /** A result to call back: it starts now when its origin has a slot and nobody waits, else it waits its turn. */
  private offer(row: CallRow): void {
    const origin = originOf(row.callback_url!)
    if (this.slots.tryStart(origin)) this.startDelivery(row, origin)
    else this.slots.enqueue(origin, row.id)
  }

  private startDelivery(row: CallRow, origin: string): void {
    const delivery = this.deliver(row).catch((e: unknown) => {
      // its outcome could not be stored: the delivery is held, so it goes back in line a little later (at least once)
      this.storeFailed(e)
      setTimeout(() => {
        if (this.closing) return
        this.slots.enqueue(origin, row.id)
        this.startReady()
      }, STORE_RETRY_MS).unref()
    })
    this.track(delivery.finally(() => {
      this.slots.end(origin)
      this.startReady()
    }))
  }

  private track(p: Promise<void>): void {
    const t: Promise<void> = p.catch((e: unknown) => void process.stderr.write(`kindling: async worker: ${(e as Error).stack ?? String(e)}\n`)).finally(() => {
      this.inflight.delete(t)
      this.wake()
    })
    this.inflight.add(t)
  }

  /** A timer for the next retry or delivery in the future; what is due now waits for a free slot. */
  private arm(now: number): void {
    const next = this.deps.store.nextDue()
    if (next === undefined || next <= now || next >= this.timerAt) return
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = next
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      this.pump()
    }, next - now)
    this.timer.unref()
  }

  private request(row: CallRow): CallRequest {
    return { callId: row.id, method: row.method, path: row.path, query: row.query, headers: JSON.parse(row.headers) as Record<string, string>, body: row.body ?? Buffer.alloc(0) }
  }

  private async run(row: CallRow): Promise<void> {
    const { registry, dispatcher, store, counts, settings, metrics, commit } = this.deps
    const fn = registry.getByKey(row.fn_key)
    const policy = retryPolicy(settings.retryDefaults, fn?.settings.retry ?? {})
    const t0 = performance.now()
    let status: number
    let headers: ResponseHeaders
    let body: Buffer
    let error: ErrorCode | undefined
    try {
      if (!fn) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${row.fn_key} was removed after the call was accepted`)
      const r = await dispatcher.invokeKey(row.fn_key, this.request(row), this.never)
      status = r.status
      headers = r.headers
      body = r.body
      error = r.errorCode
    } catch (e) {
      const k = asKindlingError(e)
      if (k.code === 'KINDLING_ERR_FUNCTION_REMOVED' && registry.getByKey(row.fn_key)) {
        // the version it was routed to was replaced (an update, a secret change): run it on the new one, uncounted
        await commit.run(() => store.requeue(row.id, Date.now(), { status: null, error: k.code }, false))
        counts.move(row.fn_key, 'running', 'queued')
        return
      }
      ;({ status, headers, body, error } = failedRun(k))
    }
    const durationS = (performance.now() - t0) / 1000
    const retriesDone = row.attempts - 1
    const retry = retryOf(policy, status, headers, retriesDone)
    if (retry) {
      const delay = retry.delayMs
      await commit.run(() => store.requeue(row.id, Date.now() + delay, { status, error: error ?? null }, true))
      counts.move(row.fn_key, 'running', 'queued')
      metrics.asyncRetries.labels(row.fn_key).inc()
      this.log(row.fn_key, `async call ${row.id}: run ${row.attempts} answered ${status}; retry ${retriesDone + 1} of ${policy.attempts} in ${(delay / 1000).toFixed(2)} s${retry.fromRetryAfter ? ' (Retry-After)' : ''}`)
      return
    }
    const hasCallback = row.callback_url !== null
    const now = Date.now()
    // held for this worker's per-origin line (no pump picks it up meanwhile); when closing, left due for the next start
    const direct = hasCallback && !this.closing
    const deliverAt = direct ? now + HOLD_MS : now
    // a retryable answer with no retry left: a dead letter, listable and replayable
    const exhausted = policy.codes.has(status)
    const result = { status, headers, body, durationS, error, retryMax: policy.attempts, exhausted }
    await commit.run(() => store.finishRun(row.id, result, hasCallback ? { deliverAt } : undefined, now))
    counts.move(row.fn_key, 'running', hasCallback ? 'delivering' : undefined)
    if (!hasCallback) metrics.asyncCalls.labels(finalState(status)).inc()
    if (finalState(status) === 'failed') this.log(row.fn_key, `async call ${row.id} failed with ${status} after ${row.attempts} run${row.attempts === 1 ? '' : 's'}${exhausted ? '; kept as a dead letter (POST /system/async-calls/{id}/replay runs it again)' : ''}`)
    if (direct) {
      this.offer({
        ...row, state: 'delivering', body: null, last_status: status, last_error: error ?? null, duration_s: durationS, retry_max: policy.attempts,
        result_headers: JSON.stringify(headers), result_body: body, next_run_at: deliverAt, exhausted: exhausted ? 1 : 0,
      })
    }
  }

  private async deliver(row: CallRow): Promise<void> {
    const { store, counts, settings, metrics, commit } = this.deps
    const out = await this.sender.post(row, settings.callbackTimeoutMs)
    const runStatus = row.last_status ?? 503
    const tries = row.callback_attempts + 1
    if (!out.delivered && out.retry && tries < settings.callbackAttempts) {
      const delay = Math.round(settings.callbackRetryMs * 2 ** (tries - 1) * (0.5 + Math.random() / 2))
      await commit.run(() => store.redeliverAt(row.id, Date.now() + delay, { status: out.status, error: out.error }))
      metrics.asyncCallbacks.labels('retried').inc()
      this.log(row.fn_key, `async call ${row.id}: ${out.error}; callback try ${tries + 1} of ${settings.callbackAttempts} in ${(delay / 1000).toFixed(2)} s`)
      return
    }
    await commit.run(() => store.delivered(row.id, runStatus, { status: out.status, error: out.error }, Date.now()))
    counts.move(row.fn_key, 'delivering', undefined)
    metrics.asyncCallbacks.labels(out.delivered ? 'delivered' : 'failed').inc()
    metrics.asyncCalls.labels(finalState(runStatus)).inc()
    if (!out.delivered) this.log(row.fn_key, `async call ${row.id}: gave up on its callback after ${tries} tr${tries === 1 ? 'y' : 'ies'}: ${out.error}`)
  }

  private prune(): void {
    if (this.deps.settings.retentionMs > 0) this.deps.store.prune(Date.now() - this.deps.settings.retentionMs)
  }

  /** Takes no new work and waits for the calls and deliveries under way; what is queued stays queued. */
  async close(): Promise<void> {
    this.closing = true
    if (this.timer) clearTimeout(this.timer)
    if (this.pruneTimer) clearInterval(this.pruneTimer)
    if (this.storeRetry) clearTimeout(this.storeRetry)
    while (this.inflight.size) await Promise.all([...this.inflight])
    this.sender.close()
  }
}

/** The result of a queued call kindling could not run at all (the cluster's worker shares it). */
export function failedRun(k: KindlingError): { status: number; headers: ResponseHeaders; body: Buffer; error: ErrorCode } {
  return {
    // 503, as the queue worker reports a gateway it cannot reach
    status: k.code === 'KINDLING_ERR_INTERNAL' || k.code === 'KINDLING_ERR_FUNCTION_NOT_FOUND' || k.code === 'KINDLING_ERR_FUNCTION_REMOVED' ? 503 : k.status,
    // the body a synchronous caller would get (sendError), as the tiers' failed results have
    headers: { 'content-type': ERROR_CONTENT_TYPE },
    body: errorBody(k.code, k.message),
    error: k.code,
  }
}

/**
 * Whether a run's answer is retried under the call's com.openfaas.retry.* policy (one rule for the
 * single node and the cluster): its wait (the answer's Retry-After on a 429 or 503, else the
 * backoff), or undefined when it is not retried.
 */
export function retryOf(policy: RetryPolicy, status: number, headers: ResponseHeaders, retriesDone: number): { delayMs: number; fromRetryAfter: boolean } | undefined {
  if (!policy.codes.has(status) || retriesDone >= policy.attempts) return undefined
  const after = status === 429 || status === 503 ? retryAfterMs(headerOf(headers, 'retry-after')) : undefined
  return { delayMs: after ?? backoffMs(policy, retriesDone + 1), fromRetryAfter: after !== undefined }
}

/** The first value of a header, whatever the case of its name. */
export function headerOf(headers: ResponseHeaders, name: string): string | undefined {
  for (const k in headers) {
    if (k.toLowerCase() !== name) continue
    const v = headers[k]!
    return Array.isArray(v) ? v[0] : v
  }
  return undefined
}
