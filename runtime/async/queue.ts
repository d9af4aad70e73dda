// The asynchronous call queue as the rest of kindling sees it: accept, look up, cancel, depth.
// Accepting is one SQLite insert; the worker does the rest.
import { randomUUID } from 'node:crypto'
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
import { AsyncStore, type CallRow, type CallState, type NewCall } from './store.js'
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
  /** the dead call this one replays */
  replayOf: string | null
  /** the new call that replays this dead one */
  replayedAs: string | null
}

/** A page of GET /system/async-calls: `next` is the cursor of the next page (the after= value), null at the end. */
export interface CallPage {
  calls: CallStatus[]
  next: string | null
}

/** What the async routes need from a queue: the embedded SQLite one or the cluster's JetStream one. */
export interface AsyncCalls {
  readonly callbackPolicy: CallbackPolicy
  accept(call: NewCall): Promise<void>
  get(id: string): CallStatus | undefined | Promise<CallStatus | undefined>
  list(state: CallState | undefined, after: string | undefined, limit: number): CallPage | Promise<CallPage>
  /** runs a dead call again as a new call; returns the new call's id */
  replay(id: string): string | Promise<string>
  cancel(id: string): void | Promise<void>
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
    replayOf: r.replay_of,
    replayedAs: r.replayed_as,
  }
}

/**
 * The new call that replays a dead one: the same function, path, query, headers and body and
 * callback, under a new gateway id (which the function sees as X-Call-Id).
 */
export function replayCall(dead: { id: string; fnKey: string; name: string; namespace: string; method: string; path: string; query: string; headers: Record<string, string>; body: Buffer; callbackUrl: string | undefined }): NewCall {
  const id = randomUUID()
  return { ...dead, id, headers: { ...dead.headers, 'x-call-id': id }, createdAt: Date.now(), replayOf: dead.id }
}

export class AsyncQueue implements AsyncCalls {
  readonly store: AsyncStore
  readonly counts = new PendingCounts()
  private readonly worker: AsyncWorker
  private readonly commit: GroupCommit
  readonly callbackPolicy: CallbackPolicy
  readonly settings: AsyncQueueSettings
  /** accepted calls whose insert is not committed yet (they count against the bound) */
  private accepting = 0

  constructor(private readonly deps: { db: Db; registry: Registry; dispatcher: Dispatcher; invoker?: Invoker; metrics: Metrics; logs: LogHub; settings: AsyncQueueSettings }) {
    this.settings = deps.settings
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

  list(state: CallState | undefined, after: string | undefined, limit: number): CallPage {
    const rows = this.store.list(state, after === undefined ? 0 : Number(after), limit + 1)
    const more = rows.length > limit
    const page = more ? rows.slice(0, limit) : rows
    return { calls: page.map(callStatus), next: more ? String(page[page.length - 1]!.seq) : null }
  }

  /** A dead letter runs again as a new call (counted against the queue bound); the dead one becomes replayed. */
  async replay(id: string): Promise<string> {
    const r = this.store.get(id)
    if (!r) throw new KindlingError('KINDLING_ERR_CALL_NOT_FOUND', `no asynchronous call ${id}`)
    if (r.state !== 'dead') throw new KindlingError('KINDLING_ERR_CALL_NOT_REPLAYABLE', `call ${id} is ${r.state}${r.replayed_as ? ` (replayed as ${r.replayed_as})` : ''}`)
    if (this.counts.byState.queued + this.accepting >= this.deps.settings.maxQueued) {
      throw new KindlingError('KINDLING_ERR_ASYNC_QUEUE_FULL', `${this.counts.byState.queued} asynchronous calls are waiting`)
    }
    const fresh = replayCall({
      id: r.id, fnKey: r.fn_key, name: r.name, namespace: r.namespace, method: r.method, path: r.path, query: r.query,
      headers: JSON.parse(r.headers) as Record<string, string>, body: r.body ?? Buffer.alloc(0), callbackUrl: r.callback_url ?? undefined,
    })
    let replayed = false
    this.accepting++
    try {
      await this.commit.run(() => (replayed = this.store.replay(id, fresh)))
    } finally {
      this.accepting--
    }
    if (!replayed) throw new KindlingError('KINDLING_ERR_CALL_NOT_REPLAYABLE', `call ${id} was replayed meanwhile`)
    this.counts.add(fresh.fnKey)
    this.deps.metrics.asyncCalls.labels('accepted').inc()
    this.deps.logs.write({ key: r.fn_key, instance: 'async', stream: 'system', text: `async call ${id} (dead) replayed as ${fresh.id}` })
    this.worker.wake()
    return fresh.id
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
