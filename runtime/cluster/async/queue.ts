// The async call queue of a cluster gateway: POST /async-function/* publishes the call to the
// work-queue stream KINDLING_ASYNC and answers 202 only once JetStream acknowledged it (stored);
// the status lives in the KV bucket kindling_async_calls, so GET /system/async-calls/{id} answers on
// any gateway; dead letters are read from, and replayed out of, the stream KINDLING_ASYNC_DEAD.
import type { KV } from '@nats-io/kv'
import { KindlingError } from '../../errors.js'
import type { LogHub } from '../../logs.js'
import type { Metrics } from '../../metrics.js'
import type { CallbackPolicy } from '../../async/callback-policy.js'
import { type AsyncCalls, type CallPage, type CallStatus, replayCall } from '../../async/queue.js'
import type { CallState, NewCall } from '../../async/store.js'
import type { ClusterLink } from '../connect.js'
import { bodyFits, decodeCall, encodeCall } from './envelope.js'
import { callSubject, DEAD_STREAM, DEAD_SUBJECTS } from './names.js'
import { encodeRecord, newRecord, readRecord, statusOf } from './record.js'
import type { AsyncHandles } from './setup.js'

/** How long a gateway waits for JetStream to store a call before it answers 503. */
const PUBLISH_TIMEOUT_MS = 5_000

/** A NATS failure as the caller sees it: 429 when the stream is full, else 503. */
export function clusterError(e: unknown, what: string): KindlingError {
  if (e instanceof KindlingError) return e
  const m = (e as Error).message ?? String(e)
  if (/maximum messages|maximum bytes|resource limits exceeded/i.test(m)) return new KindlingError('KINDLING_ERR_ASYNC_QUEUE_FULL', `the cluster's async stream is full (KINDLING_ASYNC_MAX_QUEUED): ${m}`)
  return new KindlingError('KINDLING_ERR_CLUSTER_UNAVAILABLE', `${what}: ${m}`)
}

export class ClusterAsyncQueue implements AsyncCalls {
  constructor(private readonly deps: { link: ClusterLink; h: AsyncHandles; callbackPolicy: CallbackPolicy; logs: LogHub; metrics: Metrics }) {}

  get callbackPolicy(): CallbackPolicy {
    return this.deps.callbackPolicy
  }

  private get kv(): KV {
    return this.deps.h.calls
  }

  async accept(call: NewCall): Promise<void> {
    const { link, h } = this.deps
    if (!link.connected()) throw new KindlingError('KINDLING_ERR_CLUSTER_UNAVAILABLE', 'this gateway is not connected to NATS; the call was not queued')
    const inStore = !bodyFits(call.body.length, link.nc.info?.max_payload ?? 1024 * 1024)
    try {
      if (inStore) await h.bodies.putBlob({ name: call.id }, call.body)
      // the id is the gateway's random UUID: a create, so that a clash is an error, never two calls in one
      await this.kv.create(call.id, encodeRecord(newRecord(call, inStore)))
      await h.js.publish(callSubject(call.fnKey), encodeCall(call, inStore), { msgID: call.id, timeout: PUBLISH_TIMEOUT_MS })
    } catch (e) {
      // not stored: nothing of it stays behind (best effort; the status expires with the bucket's max age anyway)
      void this.kv.purge(call.id).catch(() => {})
      if (inStore) void h.bodies.delete(call.id).catch(() => {})
      throw clusterError(e, 'the call could not be stored in JetStream; it was not queued')
    }
    this.deps.metrics.asyncCalls.labels('accepted').inc()
  }

  async get(id: string): Promise<CallStatus | undefined> {
    try {
      const r = await readRecord(this.kv, id)
      return r && statusOf(r.rec)
    } catch (e) {
      throw clusterError(e, 'the call status could not be read from NATS')
    }
  }

  /** Dead letters, oldest first, from the dead-letter stream; the cursor is a stream sequence. */
  async list(state: CallState | undefined, after: string | undefined, limit: number): Promise<CallPage> {
    if (state !== 'dead') throw new KindlingError('KINDLING_ERR_INVALID_QUERY', 'in a cluster the list has the dead letters only (state=dead); GET /system/async-calls/{id} tells any call')
    const calls: CallStatus[] = []
    let seq = after === undefined ? 1 : Number(after) + 1
    if (!Number.isSafeInteger(seq)) throw new KindlingError('KINDLING_ERR_INVALID_QUERY', 'after must be the next value of the previous page')
    let next: string | null = null
    let cursor = seq - 1
    try {
      for (;;) {
        const m = await this.deps.h.jsm.direct.getMessage(DEAD_STREAM, { seq, next_by_subj: DEAD_SUBJECTS }).catch((e: Error) => {
          if (/no message found|not found/i.test(e.message)) return null
          throw e
        })
        if (!m) break
        if (calls.length === limit) {
          next = String(cursor)
          break
        }
        const { envelope } = decodeCall(m.data)
        const r = await readRecord(this.kv, envelope.id)
        // a replay removes the message; one whose status expired is still a dead letter
        if (!r) calls.push(statusOf({ ...newRecord({ ...envelope, body: Buffer.alloc(0) }, envelope.bodyInStore), state: 'dead', deadSeq: m.seq }))
        else if (r.rec.state === 'dead') calls.push(statusOf(r.rec))
        cursor = m.seq
        seq = m.seq + 1
      }
    } catch (e) {
      throw clusterError(e, 'the dead letters could not be read from NATS')
    }
    return { calls, next }
  }

  async replay(id: string): Promise<string> {
    const { h } = this.deps
    let found
    try {
      found = await readRecord(this.kv, id)
    } catch (e) {
      throw clusterError(e, 'the call status could not be read from NATS')
    }
    if (!found) throw new KindlingError('KINDLING_ERR_CALL_NOT_FOUND', `no asynchronous call ${id}`)
    const { rec, revision } = found
    if (rec.state !== 'dead' || rec.deadSeq === null) throw new KindlingError('KINDLING_ERR_CALL_NOT_REPLAYABLE', `call ${id} is ${rec.state}${rec.replayedAs ? ` (replayed as ${rec.replayedAs})` : ''}`)
    let fresh: NewCall
    try {
      const m = await h.jsm.direct.getMessage(DEAD_STREAM, { seq: rec.deadSeq })
      if (!m) throw new KindlingError('KINDLING_ERR_CALL_NOT_REPLAYABLE', `call ${id}: its dead letter is gone from ${DEAD_STREAM}`)
      const { envelope, body } = decodeCall(m.data)
      const stored = envelope.bodyInStore ? await h.bodies.getBlob(id) : body
      if (!stored) throw new KindlingError('KINDLING_ERR_CALL_NOT_REPLAYABLE', `call ${id}: its body is gone from the object store`)
      fresh = replayCall({ ...envelope, body: Buffer.from(stored) })
      // compare-and-set: of two replays at once, one wins
      await this.kv.update(id, encodeRecord({ ...rec, state: 'replayed', replayedAs: fresh.id }), revision)
    } catch (e) {
      if (e instanceof KindlingError) throw e
      if (/wrong last sequence/i.test((e as Error).message)) throw new KindlingError('KINDLING_ERR_CALL_NOT_REPLAYABLE', `call ${id} was replayed meanwhile`)
      throw clusterError(e, 'the dead letter could not be read from NATS')
    }
    try {
      await this.accept(fresh)
    } catch (e) {
      // not queued: the call is a dead letter again
      await this.kv.put(id, encodeRecord(rec)).catch(() => {})
      throw e
    }
    await h.jsm.streams.deleteMessage(DEAD_STREAM, rec.deadSeq, false).catch(() => {})
    if (rec.bodyInStore) await h.bodies.delete(id).catch(() => {})
    this.deps.logs.write({ key: `${rec.function}.${rec.namespace}`, instance: 'async', stream: 'system', text: `async call ${id} (dead) replayed as ${fresh.id}` })
    return fresh.id
  }

  async cancel(id: string): Promise<void> {
    let found
    try {
      found = await readRecord(this.kv, id)
    } catch (e) {
      throw clusterError(e, 'the call status could not be read from NATS')
    }
    if (!found) throw new KindlingError('KINDLING_ERR_CALL_NOT_FOUND', `no asynchronous call ${id}`)
    if (found.rec.state !== 'queued') throw new KindlingError('KINDLING_ERR_CALL_NOT_CANCELLABLE', `call ${id} is ${found.rec.state}`)
    try {
      // a worker that claims it meanwhile wins; the worker acks a cancelled call without running it
      await this.kv.update(id, encodeRecord({ ...found.rec, state: 'cancelled', finishedAt: new Date().toISOString() }), found.revision)
    } catch (e) {
      if (/wrong last sequence/i.test((e as Error).message)) throw new KindlingError('KINDLING_ERR_CALL_NOT_CANCELLABLE', `call ${id} started meanwhile`)
      throw clusterError(e, 'the call could not be cancelled')
    }
  }
}
