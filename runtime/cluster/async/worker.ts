// A cluster worker's async loop: pulls calls from the shared durable consumer of KINDLING_ASYNC
// (only as many as it has free slots), claims each in the KV bucket before running it, runs it
// through the local dispatcher with the com.openfaas.retry.* policy, calls back under the callback
// policy, and only then acks. While a call runs (or its callback is tried) the message is kept
// with in-progress acks (msg.working()), so a worker that dies stops them and JetStream gives the
// call to another worker after the ack wait. A retry is a nak with the backoff as its delay (the
// same message comes back, no republish). A call whose retries ran out is published to
// KINDLING_ASYNC_DEAD before the ack. At least once: a redelivered call that already finished
// (its status is final) is acked without running again.
import { setMaxListeners } from 'node:events'
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import { asKindlingError, type ErrorCode, KindlingError } from '../../errors.js'
import type { LogHub } from '../../logs.js'
import type { Metrics } from '../../metrics.js'
import type { Dispatcher, ResponseHeaders } from '../../pool/dispatcher.js'
import type { Registry } from '../../registry/registry.js'
import { CallbackSender } from '../../async/callback.js'
import type { CallbackPolicy } from '../../async/callback-policy.js'
import { retryPolicy } from '../../async/retry.js'
import { type CallRow, finalState } from '../../async/store.js'
import { failedRun, retryOf, type WorkerSettings } from '../../async/worker.js'
import { type CallEnvelope, decodeCall, encodeCall } from './envelope.js'
import { ASYNC_STREAM, deadSubject, WORKERS_CONSUMER } from './names.js'
import { type CallRecord, encodeRecord, FINAL_STATES, newRecord, readRecord } from './record.js'
import type { AsyncHandles } from './setup.js'

export interface ClusterWorkerDeps {
  nodeId: string
  h: AsyncHandles
  registry: Registry
  dispatcher: Dispatcher
  policy: CallbackPolicy
  metrics: Metrics
  logs: LogHub
  settings: WorkerSettings
  ackWaitMs: number
  /** the node is in the cluster's membership (heartbeats seen lately) */
  alive(nodeId: string): boolean
}

const FETCH_EXPIRES_MS = 2_000
const PAUSE_MS = 500
/** a worker without the function leaves the call to another worker for this long */
const NOT_HERE_DELAY_MS = 1_000
const OWNER_RECHECK_MS = 1_000
const CLOSING_PERSIST_MS = 5_000
/** how long a worker keeps trying to store an outcome while NATS is away (a restart) */
const PERSIST_MS = 120_000

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref())
const iso = (ms: number) => new Date(ms).toISOString()

export class ClusterAsyncWorker {
  private running = 0
  private closing = false
  private closingAt = 0
  private loop: Promise<void> | undefined
  private batch: ConsumerMessages | undefined
  private slotFreed: (() => void) | undefined
  private readonly inflight = new Set<Promise<void>>()
  /** calls this process runs now */
  private readonly local = new Set<string>()
  private readonly sender: CallbackSender
  private readonly never = new AbortController().signal

  constructor(private readonly deps: ClusterWorkerDeps) {
    // every call in flight listens on it
    setMaxListeners(0, this.never)
    this.sender = new CallbackSender(deps.policy)
  }

  start(): void {
    this.loop = this.pull()
  }

  private log(key: string, text: string): void {
    this.deps.logs.write({ key, instance: 'async', stream: 'system', text })
  }

  private async pull(): Promise<void> {
    const { h, settings } = this.deps
    while (!this.closing) {
      const free = settings.concurrency - this.running
      if (free <= 0) {
        await new Promise<void>((r) => (this.slotFreed = r))
        continue
      }
      try {
        const consumer = await h.js.consumers.get(ASYNC_STREAM, WORKERS_CONSUMER)
        this.batch = await consumer.fetch({ max_messages: free, expires: FETCH_EXPIRES_MS })
        for await (const m of this.batch) this.begin(m)
      } catch {
        // NATS away (a restart): try again shortly; the client reconnects by itself
        if (!this.closing) await sleep(PAUSE_MS)
      } finally {
        this.batch = undefined
      }
    }
  }

  private begin(m: JsMsg): void {
    this.running++
    const p = this.handle(m)
      .catch((e: unknown) => {
        // its outcome could not be stored (NATS away): not acked, so it comes back after the ack wait
        process.stderr.write(`kindling: cluster async worker: ${(e as Error).message}\n`)
      })
      .finally(() => {
        this.running--
        this.inflight.delete(p)
        const f = this.slotFreed
        this.slotFreed = undefined
        f?.()
      })
    this.inflight.add(p)
  }

  private async handle(m: JsMsg): Promise<void> {
    const { h, registry, nodeId } = this.deps
    const { envelope, body: inline } = decodeCall(m.data)
    const id = envelope.id
    const found = await readRecord(h.calls, id)
    if (found && FINAL_STATES.has(found.rec.state)) {
      // already finished (a redelivery after its ack was lost) or cancelled: not run again
      await m.ackAck().catch(() => m.ack())
      if (found.rec.state === 'cancelled' && envelope.bodyInStore) await h.bodies.delete(id).catch(() => {})
      return
    }
    if (found?.rec.state === 'running' && found.rec.node !== null) {
      // a redelivery while its worker still runs it (the ack wait ran out while NATS was away): left
      // to that worker; a worker gone from the membership (or this node restarted) has lost it
      const owner = found.rec.node
      if (owner === nodeId ? this.local.has(id) : this.deps.alive(owner)) {
        // looked at again soon: the owner finishes it, or drops out of the membership
        m.nak(Math.min(this.deps.ackWaitMs, OWNER_RECHECK_MS))
        return
      }
    }
    const fn = registry.getByKey(envelope.fnKey)
    if (!fn) {
      // not deployed on this node (yet): another worker may have it
      m.nak(NOT_HERE_DELAY_MS)
      return
    }
    // the claim: a compare-and-set on the call's status (a create when the status is gone), so of two
    // deliveries of one call at once only one runs it
    const base = found?.rec ?? newRecord({ ...envelope, body: Buffer.alloc(0) }, envelope.bodyInStore)
    const now = Date.now()
    const claimed: CallRecord = { ...base, state: 'running', attempts: base.attempts + 1, retries: base.attempts, node: nodeId, startedAt: iso(now), nextAttemptAt: null }
    try {
      if (found) await h.calls.update(id, encodeRecord(claimed), found.revision)
      else await h.calls.create(id, encodeRecord(claimed))
    } catch {
      // someone else changed it first: leave the message alone; it comes back after the ack wait if still unfinished
      return
    }
    // while it runs: in-progress acks, so the ack wait runs out only when this worker is gone
    const beat = setInterval(() => m.working(), Math.max(100, Math.floor(this.deps.ackWaitMs / 3)))
    beat.unref()
    this.local.add(id)
    try {
      await this.run(m, envelope, claimed, inline)
    } finally {
      clearInterval(beat)
      this.local.delete(id)
    }
  }

  /** Stores an outcome: while NATS is away, tries again (the result is only in this process). */
  private async persist<T>(fn: () => Promise<T>): Promise<T> {
    const end = Date.now() + PERSIST_MS
    for (;;) {
      try {
        return await fn()
      } catch (e) {
        // a node shutting down gives up sooner: the call is not acked, so it runs again elsewhere
        if (Date.now() > end || (this.closing && Date.now() > this.closingAt + CLOSING_PERSIST_MS)) throw e
        await sleep(250)
      }
    }
  }

  private async run(m: JsMsg, envelope: CallEnvelope, rec: CallRecord, inline: Buffer): Promise<void> {
    const { h, registry, dispatcher, settings, metrics } = this.deps
    const id = envelope.id
    const fn = registry.getByKey(envelope.fnKey)
    const policy = retryPolicy(settings.retryDefaults, fn?.settings.retry ?? {})
    const t0 = performance.now()
    let status: number
    let headers: ResponseHeaders
    let body: Buffer
    let error: ErrorCode | undefined
    try {
      const reqBody = envelope.bodyInStore ? await h.bodies.getBlob(id) : inline
      if (reqBody === null) throw new KindlingError('KINDLING_ERR_INTERNAL', `the body of call ${id} is gone from the object store`)
      if (!fn) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${envelope.fnKey} was removed after the call was accepted`)
      const r = await dispatcher.invokeKey(envelope.fnKey, { callId: id, method: envelope.method, path: envelope.path, query: envelope.query, headers: envelope.headers, body: Buffer.from(reqBody) }, this.never)
      ;({ status, headers, body } = r)
      error = r.errorCode
    } catch (e) {
      const k = asKindlingError(e)
      if (k.code === 'KINDLING_ERR_FUNCTION_REMOVED' && registry.getByKey(envelope.fnKey)) {
        // routed to a version that was replaced: run it on the new one, uncounted
        await this.persist(() => h.calls.put(id, encodeRecord({ ...rec, state: 'queued', attempts: rec.attempts - 1, node: null })))
        m.nak()
        return
      }
      ;({ status, headers, body, error } = failedRun(k))
    }
    const durationS = (performance.now() - t0) / 1000
    const retriesDone = rec.attempts - 1
    const retry = retryOf(policy, status, headers, retriesDone)
    if (retry) {
      const delay = retry.delayMs
      await this.persist(() => h.calls.put(id, encodeRecord({ ...rec, state: 'queued', lastStatus: status, lastError: error ?? null, retryMax: policy.attempts, nextAttemptAt: iso(Date.now() + delay), node: null })))
      // the same message comes back after the delay (to any worker)
      m.nak(delay)
      metrics.asyncRetries.labels(envelope.fnKey).inc()
      this.log(envelope.fnKey, `async call ${id}: run ${rec.attempts} on ${this.deps.nodeId} answered ${status}; retry ${retriesDone + 1} of ${policy.attempts} in ${(delay / 1000).toFixed(2)} s${retry.fromRetryAfter ? ' (Retry-After)' : ''}`)
      return
    }
    const exhausted = policy.codes.has(status)
    const done: CallRecord = { ...rec, lastStatus: status, lastError: error ?? null, retryMax: policy.attempts, durationSeconds: durationS }
    if (envelope.callbackUrl !== undefined) done.callback = await this.deliver(envelope.callbackUrl, envelope.name, id, done, headers, body)
    if (exhausted) {
      // kept for a replay: the message as it came, its body in the object store stays
      const ack = await this.persist(() => h.js.publish(deadSubject(envelope.fnKey), encodeCall({ ...envelope, body: inline }, envelope.bodyInStore), { msgID: `dead-${id}` }))
      done.deadSeq = ack.seq
    }
    const final = exhausted ? 'dead' : finalState(status)
    await this.persist(() => h.calls.put(id, encodeRecord({ ...done, state: final, finishedAt: iso(Date.now()) })))
    // a lost ack is harmless now: the redelivery finds the status final
    await m.ackAck().catch(() => m.ack())
    if (envelope.bodyInStore && !exhausted) await h.bodies.delete(id).catch(() => {})
    metrics.asyncCalls.labels(finalState(status)).inc()
    if (final !== 'done') this.log(envelope.fnKey, `async call ${id} failed with ${status} after ${rec.attempts} run${rec.attempts === 1 ? '' : 's'}${exhausted ? '; kept as a dead letter (POST /system/async-calls/{id}/replay runs it again)' : ''}`)
  }

  /** The callback, tried as the single node tries it (backoff between tries); the message is kept in progress meanwhile. */
  private async deliver(url: string, name: string, id: string, rec: CallRecord, headers: ResponseHeaders, body: Buffer): Promise<CallRecord['callback']> {
    const { settings, metrics } = this.deps
    const row = {
      id, name, callback_url: url, headers: JSON.stringify(rec.correlationId === null ? {} : { 'x-correlation-id': rec.correlationId }),
      result_headers: JSON.stringify(headers), result_body: body, last_status: rec.lastStatus, last_error: rec.lastError,
      duration_s: rec.durationSeconds, attempts: rec.attempts, retry_max: rec.retryMax,
    } as CallRow
    let tries = 0
    for (;;) {
      const out = await this.sender.post(row, settings.callbackTimeoutMs)
      tries++
      if (!out.delivered && out.retry && tries < settings.callbackAttempts && !this.closing) {
        metrics.asyncCallbacks.labels('retried').inc()
        await sleep(Math.round(settings.callbackRetryMs * 2 ** (tries - 1) * (0.5 + Math.random() / 2)))
        continue
      }
      metrics.asyncCallbacks.labels(out.delivered ? 'delivered' : 'failed').inc()
      return { url, attempts: tries, status: out.status, error: out.error, delivered: out.delivered }
    }
  }

  /** Pulls no more; calls under way finish (and are acked) first. */
  async close(): Promise<void> {
    this.closing = true
    this.closingAt = Date.now()
    this.batch?.stop()
    this.slotFreed?.()
    await this.loop
    while (this.inflight.size) await Promise.all([...this.inflight])
    this.sender.close()
  }
}
