// A call's status in the KV bucket kindling_async_calls (key: the call id): what
// GET /system/async-calls/{id} answers on any gateway, plus what the workers need to claim and
// replay it. Writes that must not race (the claim, a cancel, a replay) are compare-and-set on the
// entry's revision.
import type { KV } from '@nats-io/kv'
import type { CallStatus } from '../../async/queue.js'
import type { NewCall } from '../../async/store.js'

export interface CallRecord extends CallStatus {
  /** the node that ran (or runs) it */
  node: string | null
  /** its message in the dead-letter stream, once dead */
  deadSeq: number | null
  bodyInStore: boolean
}

export const FINAL_STATES = new Set(['done', 'failed', 'dead', 'replayed', 'cancelled'])

export function newRecord(call: NewCall, bodyInStore: boolean): CallRecord {
  const dot = call.fnKey.lastIndexOf('.')
  return {
    callId: call.id,
    correlationId: call.headers['x-correlation-id'] ?? null,
    function: call.fnKey.slice(0, dot),
    namespace: call.fnKey.slice(dot + 1),
    state: 'queued',
    attempts: 0,
    retries: 0,
    retryMax: null,
    lastStatus: null,
    lastError: null,
    createdAt: new Date(call.createdAt).toISOString(),
    startedAt: null,
    nextAttemptAt: null,
    finishedAt: null,
    durationSeconds: null,
    callback: call.callbackUrl === undefined ? null : { url: call.callbackUrl, attempts: 0, status: null, error: null, delivered: false },
    replayOf: call.replayOf ?? null,
    replayedAs: null,
    node: null,
    deadSeq: null,
    bodyInStore,
  }
}

export function statusOf(r: CallRecord): CallStatus & { node: string | null } {
  const { deadSeq: _seq, bodyInStore: _store, ...status } = r
  return status
}

export async function readRecord(kv: KV, id: string): Promise<{ rec: CallRecord; revision: number } | undefined> {
  // keys are the gateway's UUIDs; anything else cannot be a call (and may not be a valid key)
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return undefined
  const e = await kv.get(id)
  if (!e || e.operation !== 'PUT' || e.length === 0) return undefined
  return { rec: e.json<CallRecord>(), revision: e.revision }
}

export const encodeRecord = (r: CallRecord) => JSON.stringify(r)
