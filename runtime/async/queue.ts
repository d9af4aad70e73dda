// The asynchronous call queue as the rest of kindling sees it: accept, look up, cancel, depth.
// Accepting is one SQLite insert; the worker does the rest.
import { KindlingError } from '../errors.js'
import type { LogHub } from '../logs.js'
import type { Metrics } from '../metrics.js'
import type { Dispatcher, Invoker } from '../pool/dispatcher.js'
import type { Db } from '../registry/db.js'
import type { Registry } from '../registry/registry.js'
import { CallbackPolicy } from './callback-policy.js'
import { DeliveryLeases } from './delivery-lease.js'
import { GroupCommit } from './group-commit.js'
import { PendingCounts } from './pending.js'
import { AsyncStore, type CallRow, type NewCall } from './store.js'
import { AsyncWorker, type WorkerSettings } from './worker.js'

export interface AsyncQueueSettings extends WorkerSettings {
  maxQueued: number
  /** KINDLING_CALLBACK_ALLOW: non-public callback destinations the operator grants */
  callbackAllow: readonly string[]
}

/** What GET /system/async-calls/{id} answers. */
export interface CallStatus {
  callId: string
  /** the caller's own id (its X-Correlation-Id or X-Call-Id), when it gave one */
  correlationId: string | null
  function: string
  namespace: string
  state: string
  /** runs started (the first one and its retries) */
  attempts: number
  retries: number
  retryMax: number | null
  lastStatus: number | null
  lastError: string | null
  createdAt: string
  startedAt: string | null
  nextAttemptAt: string | null
  finishedAt: string | null
  durationSeconds: number | null
  callback: { url: string; attempts: number; status: number | null; error: string | null; delivered: boolean } | null
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export function callStatus(r: CallRow): CallStatus {
  const dot = r.fn_key.lastIndexOf('.')
  return {
    callId: r.id,
    correlationId: (JSON.parse(r.headers) as Record<string, string | undefined>)['x-correlation-id'] ?? null,
    function: r.fn_key.slice(0, dot),
    namespace: r.fn_key.slice(dot + 1),
    state: r.state,
    attempts: r.attempts,
    retries: Math.max(0, r.attempts - 1),
    retryMax: r.retry_max,
    lastStatus: r.last_status,
    lastError: r.last_error,
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    nextAttemptAt: r.state === 'queued' ? iso(r.next_run_at) : null,
    finishedAt: iso(r.finished_at),
    durationSeconds: r.duration_s,
    callback: r.callback_url === null ? null : {
      url: r.callback_url,
      attempts: r.callback_attempts,
      status: r.callback_status,
      error: r.callback_error,
      delivered: r.callback_status !== null && r.callback_status >= 200 && r.callback_status < 300,
    },
  }
}

export class AsyncQueue {
  readonly store: AsyncStore
  readonly counts = new PendingCounts()
  private readonly worker: AsyncWorker
  private readonly commit: GroupCommit
  readonly callbackPolicy: CallbackPolicy
  /** accepted calls whose insert is not committed yet (they count against the bound) */
  private accepting = 0

  constructor(private readonly deps: { db: Db; registry: Registry; dispatcher: Dispatcher; invoker?: Invoker; metrics: Metrics; logs: LogHub; settings: AsyncQueueSettings }) {
    this.store = new AsyncStore(deps.db)
    this.commit = new GroupCommit(deps.db)
    this.callbackPolicy = new CallbackPolicy(deps.settings.callbackAllow)
    const leases = new DeliveryLeases(deps.db)
    this.worker = new AsyncWorker({ store: this.store, commit: this.commit, leases, policy: this.callbackPolicy, counts: this.counts, registry: deps.registry, dispatcher: deps.invoker ?? deps.dispatcher, metrics: deps.metrics, logs: deps.logs, settings: deps.settings })
  }

  /** Picks up what a previous run left: running calls run again, deliveries are tried again. */
  start(): void {
    const rerun = this.store.recover(Date.now())
    if (rerun > 0) process.stderr.write(`kindling: ${rerun} asynchronous call${rerun === 1 ? ' was' : 's were'} running when kindling stopped; ${rerun === 1 ? 'it runs' : 'they run'} again\n`)
    this.counts.load(this.store.pendingCounts())
    this.deps.dispatcher.setAsyncPendingSource(() => this.counts.byFunction)
    this.worker.start()
  }

  /**
   * Stores a call for the worker and resolves once it is committed to disk. Ids are the gateway's
   * (random), so a clash is a bug: it throws rather than answer 202 for a call that is not queued.
   */
  async accept(call: NewCall): Promise<void> {
    if (this.counts.byState.queued + this.accepting >= this.deps.settings.maxQueued) {
      throw new KindlingError('KINDLING_ERR_ASYNC_QUEUE_FULL', `${this.counts.byState.queued} asynchronous calls are waiting`)
    }
    let created = false
    this.accepting++
    try {
      await this.commit.run(() => (created = this.store.insert(call)))
    } finally {
      this.accepting--
    }
    if (!created) throw new KindlingError('KINDLING_ERR_INTERNAL', `asynchronous call id ${call.id} exists already; the call was not queued`)
    this.counts.add(call.fnKey)
    this.deps.metrics.asyncCalls.labels('accepted').inc()
    this.worker.wake()
  }

  get(id: string): CallStatus | undefined {
    const r = this.store.get(id)
    return r && callStatus(r)
  }

  /** Cancels a queued call; a call that runs or has run cannot be cancelled. */
  cancel(id: string): void {
    const r = this.store.get(id)
    if (!r) throw new KindlingError('KINDLING_ERR_CALL_NOT_FOUND', `no asynchronous call ${id}`)
    if (!this.store.cancel(id, Date.now())) throw new KindlingError('KINDLING_ERR_CALL_NOT_CANCELLABLE', `call ${id} is ${this.store.get(id)?.state ?? r.state}`)
    this.counts.move(r.fn_key, 'queued', undefined)
    this.deps.metrics.asyncCalls.labels('cancelled').inc()
    this.deps.logs.write({ key: r.fn_key, instance: 'async', stream: 'system', text: `async call ${id} cancelled` })
  }

  depth(): Record<string, number> {
    return { ...this.counts.byState }
  }

  close(): Promise<void> {
    return this.worker.close()
  }
}
