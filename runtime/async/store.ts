// The durable async queue: one row per accepted call in the data dir's SQLite (WAL), so that an
// accepted call survives a restart or a kill -9 of kindling. Every state change is one statement
// or one transaction. States: queued -> running -> (queued again for a retry) -> delivering (a
// result waits for its callback) -> done | failed | dead; queued -> cancelled; dead -> replayed.
// A dead call (a dead letter) is one whose last run answered a retryable status with no retry left:
// it keeps its request (body and headers) until the retention prunes it, so that the operator can
// replay it as a new call.
// On a full disk (registry/storage.ts): an accept answers 507; the worker's reads of due work find
// nothing until the next storage check instead of throwing out of its timer.
import type { ResponseHeaders } from '../pool/dispatcher.js'
import type { Db } from '../registry/db.js'
import { migrate } from '../registry/db.js'
import { bestEffortWrite, type Storage, storageOf, storageWrite } from '../registry/storage.js'

export type CallState = 'queued' | 'running' | 'delivering' | 'done' | 'failed' | 'dead' | 'replayed' | 'cancelled'

export const CALL_STATES: readonly CallState[] = ['queued', 'running', 'delivering', 'done', 'failed', 'dead', 'replayed', 'cancelled']

export const ASYNC_MIGRATIONS = [
  {
    name: 'async-calls-1',
    sql: `CREATE TABLE async_calls (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      fn_key TEXT NOT NULL,
      name TEXT NOT NULL,
      namespace TEXT NOT NULL,
      method TEXT NOT NULL,
      path TEXT NOT NULL,
      query TEXT NOT NULL,
      headers TEXT NOT NULL,
      body BLOB,
      callback_url TEXT,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      retry_max INTEGER,
      last_status INTEGER,
      last_error TEXT,
      next_run_at INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      started_at INTEGER,
      finished_at INTEGER,
      duration_s REAL,
      result_headers TEXT,
      result_body BLOB,
      callback_attempts INTEGER NOT NULL DEFAULT 0,
      callback_status INTEGER,
      callback_error TEXT
    );
    CREATE INDEX async_calls_due ON async_calls (state, next_run_at, seq);
    CREATE INDEX async_calls_finished ON async_calls (finished_at) WHERE finished_at IS NOT NULL;`,
  },
  {
    // dead letters: a call whose retries ran out is kept (request included) until replayed or pruned
    name: 'async-calls-2-dead-letters',
    sql: `ALTER TABLE async_calls ADD COLUMN exhausted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE async_calls ADD COLUMN replay_of TEXT;
    ALTER TABLE async_calls ADD COLUMN replayed_as TEXT;
    CREATE INDEX async_calls_state ON async_calls (state, seq);`,
  },
]

/** A call as accepted. */
export interface NewCall {
  id: string
  fnKey: string
  /** the function name as the caller wrote it (X-Function-Name) */
  name: string
  namespace: string
  method: string
  path: string
  query: string
  headers: Record<string, string>
  body: Buffer
  callbackUrl: string | undefined
  createdAt: number
  /** the dead call this one replays */
  replayOf?: string
}

export interface CallRow {
  seq: number
  id: string
  fn_key: string
  name: string
  namespace: string
  method: string
  path: string
  query: string
  headers: string
  body: Buffer | null
  callback_url: string | null
  state: CallState
  attempts: number
  retry_max: number | null
  last_status: number | null
  last_error: string | null
  next_run_at: number
  created_at: number
  started_at: number | null
  finished_at: number | null
  duration_s: number | null
  result_headers: string | null
  result_body: Buffer | null
  callback_attempts: number
  callback_status: number | null
  callback_error: string | null
  /** 1 when the last run answered a retryable status with no retry left (a dead letter) */
  exhausted: number
  replay_of: string | null
  replayed_as: string | null
}

/** The outcome of the last run of a call. */
export interface RunResult {
  status: number
  headers: ResponseHeaders
  body: Buffer
  durationS: number
  error: string | undefined
  retryMax: number
  /** a retryable status with no retry left: the call becomes a dead letter */
  exhausted: boolean
}

export const PENDING_STATES: readonly CallState[] = ['queued', 'running', 'delivering']

/** SQL: the request headers reduced to the correlation id (a JSON object, {} without one). */
const KEEP_CORRELATION_ONLY = `CASE WHEN json_extract(headers, '$."x-correlation-id"') IS NULL THEN '{}'
  ELSE json_object('x-correlation-id', json_extract(headers, '$."x-correlation-id"')) END`

export class AsyncStore {
  private readonly q: Record<string, import('better-sqlite3').Statement>
  private readonly storage: Storage
  /** after a claim or lease failed for lack of space: no new try before this time (ms) */
  private fullUntil = 0
  /** the recovery at start failed for lack of space: done before the next claim */
  private recoverPending = false

  constructor(private readonly db: Db) {
    this.storage = storageOf(db)
    migrate(db, ASYNC_MIGRATIONS)
    this.q = {
      insert: db.prepare(`INSERT OR IGNORE INTO async_calls (id, fn_key, name, namespace, method, path, query, headers, body, callback_url, state, next_run_at, created_at, replay_of)
                          VALUES (@id, @fnKey, @name, @namespace, @method, @path, @query, @headers, @body, @callbackUrl, 'queued', @createdAt, @createdAt, @replayOf)`),
      dueQueued: db.prepare(`SELECT * FROM async_calls WHERE state = 'queued' AND next_run_at <= ? ORDER BY next_run_at, seq LIMIT ?`),
      dueDelivering: db.prepare(`SELECT * FROM async_calls WHERE state = 'delivering' AND next_run_at <= ? ORDER BY next_run_at, seq LIMIT ?`),
      claim: db.prepare(`UPDATE async_calls SET state = 'running', attempts = attempts + 1, started_at = ? WHERE id = ? AND state = 'queued'`),
      lease: db.prepare(`UPDATE async_calls SET next_run_at = ? WHERE id = ? AND state = 'delivering'`),
      nextDue: db.prepare(`SELECT MIN(next_run_at) AS t FROM async_calls WHERE state = ?`),
      requeue: db.prepare(`UPDATE async_calls SET state = 'queued', attempts = attempts - ?, last_status = ?, last_error = ?, next_run_at = ? WHERE id = ? AND state = 'running'`),
      // a dead letter keeps its request body for a replay
      toDelivery: db.prepare(`UPDATE async_calls SET state = 'delivering', last_status = @status, last_error = @error, duration_s = @durationS, retry_max = @retryMax, exhausted = @exhausted,
                                result_headers = @headers, result_body = @body, body = CASE WHEN @exhausted = 1 THEN body END, next_run_at = @deliverAt WHERE id = @id AND state = 'running'`),
      finishDead: db.prepare(`UPDATE async_calls SET state = 'dead', exhausted = 1, last_status = @status, last_error = @error, duration_s = @durationS, retry_max = @retryMax,
                               finished_at = @now WHERE id = @id AND state = 'running'`),
      // a finished call keeps no request body and of its headers (Authorization, cookies) only the
      // caller's correlation id, which GET /system/async-calls/{id} shows
      finishRun: db.prepare(`UPDATE async_calls SET state = @state, last_status = @status, last_error = @error, duration_s = @durationS, retry_max = @retryMax,
                               body = NULL, headers = ${KEEP_CORRELATION_ONLY}, finished_at = @now WHERE id = @id AND state = 'running'`),
      delivered: db.prepare(`UPDATE async_calls SET state = CASE WHEN exhausted = 1 THEN 'dead' ELSE @state END, callback_attempts = callback_attempts + 1, callback_status = @status, callback_error = @error,
                               result_headers = NULL, result_body = NULL, headers = CASE WHEN exhausted = 1 THEN headers ELSE ${KEEP_CORRELATION_ONLY} END, finished_at = @now WHERE id = @id AND state = 'delivering'`),
      redeliver: db.prepare(`UPDATE async_calls SET callback_attempts = callback_attempts + 1, callback_status = ?, callback_error = ?, next_run_at = ? WHERE id = ? AND state = 'delivering'`),
      cancel: db.prepare(`UPDATE async_calls SET state = 'cancelled', body = NULL, headers = ${KEEP_CORRELATION_ONLY}, finished_at = ? WHERE id = ? AND state = 'queued'`),
      get: db.prepare(`SELECT * FROM async_calls WHERE id = ?`),
      list: db.prepare(`SELECT * FROM async_calls WHERE (@state IS NULL OR state = @state) AND seq > @after ORDER BY seq LIMIT @limit`),
      markReplayed: db.prepare(`UPDATE async_calls SET state = 'replayed', replayed_as = ?, body = NULL, headers = ${KEEP_CORRELATION_ONLY} WHERE id = ? AND state = 'dead'`),
      counts: db.prepare(`SELECT fn_key, state, COUNT(*) AS n FROM async_calls WHERE state IN ('queued', 'running', 'delivering') GROUP BY fn_key, state`),
      recoverRunning: db.prepare(`UPDATE async_calls SET state = 'queued', next_run_at = ? WHERE state = 'running'`),
      recoverDelivering: db.prepare(`UPDATE async_calls SET next_run_at = ? WHERE state = 'delivering' AND next_run_at > ?`),
      prune: db.prepare(`DELETE FROM async_calls WHERE finished_at IS NOT NULL AND finished_at < ?`),
    }
  }

  /** Stores a new call; false when a call with this id exists already (the id is an idempotency key). */
  insert(c: NewCall): boolean {
    this.storage.admit('async call')
    this.storage.admission = true
    return this.q.insert!.run({ ...c, headers: JSON.stringify(c.headers), callbackUrl: c.callbackUrl ?? null, replayOf: c.replayOf ?? null }).changes > 0
  }

  /**
   * A dead letter again as a new call (`fresh`, built from the dead row), in one transaction: false
   * when the call is not dead (any more), so that two replays of one call make one new call.
   */
  replay(id: string, fresh: NewCall): boolean {
    this.storage.admit('async call')
    return this.db.transaction(() => {
      if (this.q.markReplayed!.run(fresh.id, id).changes === 0) return false
      return this.insert(fresh)
    })()
  }

  /** Calls in accept order, after the cursor `after` (a seq), in one state or all. */
  list(state: CallState | undefined, after: number, limit: number): CallRow[] {
    return this.q.list!.all({ state: state ?? null, after, limit }) as CallRow[]
  }

  /** Runs a claim or lease; on a full disk, nothing (and no new try until the next storage check). */
  private whileSpace(now: number, fn: () => CallRow[]): CallRow[] {
    if (now < this.fullUntil) return []
    if (this.recoverPending && bestEffortWrite(this.db, 'async recovery', () => this.recoverTx(now)) !== undefined) this.recoverPending = false
    const rows = this.recoverPending ? undefined : bestEffortWrite(this.db, 'async claim', fn)
    if (rows === undefined) this.fullUntil = now + this.storage.settings.checkIntervalMs
    return rows ?? []
  }

  /**
   * After a crash: a call that was running runs again (at-least-once), and a delivery that was
   * under way is tried again now. Returns how many calls were running. On a full disk the rows
   * are put back later, before the first claim that finds space (pendingCounts counts them as
   * queued meanwhile, which they are).
   */
  recover(now: number): number {
    const n = bestEffortWrite(this.db, 'async recovery', () => this.recoverTx(now))
    if (n !== undefined) return n
    this.recoverPending = true
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM async_calls WHERE state = 'running'`).get() as { n: number }).n
  }

  private recoverTx(now: number): number {
    return this.db.transaction(() => {
      this.q.recoverDelivering!.run(now, now)
      return this.q.recoverRunning!.run(now).changes
    })()
  }

  /** Marks up to `limit` due queued calls running, oldest first, and returns them. */
  claimDue(now: number, limit: number): CallRow[] {
    return this.whileSpace(now, () => this.db.transaction(() => {
      const rows = this.q.dueQueued!.all(now, limit) as CallRow[]
      for (const r of rows) {
        this.q.claim!.run(now, r.id)
        r.state = 'running'
        r.attempts++
        r.started_at = now
      }
      return rows
    })())
  }

  /** Due deliveries, leased until `leaseUntil` so that the next pump does not pick them again. */
  leaseDeliveries(now: number, limit: number, leaseUntil: number): CallRow[] {
    return this.whileSpace(now, () => this.db.transaction(() => {
      const rows = this.q.dueDelivering!.all(now, limit) as CallRow[]
      for (const r of rows) this.q.lease!.run(leaseUntil, r.id)
      return rows
    })())
  }

  /**
   * When the next queued call or delivery is due (ms), or undefined when nothing waits; after a
   * claim failed for lack of space, not before the next try (so the worker arms a timer for it).
   */
  nextDue(): number | undefined {
    const a = (this.q.nextDue!.get('queued') as { t: number | null }).t
    const b = (this.q.nextDue!.get('delivering') as { t: number | null }).t
    let t = a === null ? b ?? undefined : b === null ? a : Math.min(a, b)
    // the calls to put back are due as soon as there is space
    if (this.recoverPending) t = Math.min(t ?? this.fullUntil, this.fullUntil)
    return t === undefined ? undefined : Math.max(t, this.fullUntil)
  }

  /** Back to the queue: a retry (the attempt counts) or a run that never happened (it does not). */
  requeue(id: string, at: number, last: { status: number | null; error: string | null }, countAttempt: boolean): void {
    this.q.requeue!.run(countAttempt ? 0 : 1, last.status, last.error, at, id)
  }

  /**
   * A final result: kept for its callback (due at `deliverAt`: now for the next pump, or a lease's
   * end when the worker delivers it at once), or the call ends here.
   */
  finishRun(id: string, r: RunResult, callback: { deliverAt: number } | undefined, now: number): void {
    const common = { id, status: r.status, error: r.error ?? null, durationS: r.durationS, retryMax: r.retryMax }
    if (callback) this.q.toDelivery!.run({ ...common, exhausted: r.exhausted ? 1 : 0, headers: JSON.stringify(r.headers), body: r.body, deliverAt: callback.deliverAt })
    else if (r.exhausted) this.q.finishDead!.run({ ...common, now })
    else this.q.finishRun!.run({ ...common, state: finalState(r.status), now })
  }

  delivered(id: string, runStatus: number, callback: { status: number | null; error: string | null }, now: number): void {
    this.q.delivered!.run({ id, state: finalState(runStatus), status: callback.status, error: callback.error, now })
  }

  redeliverAt(id: string, at: number, callback: { status: number | null; error: string | null }): void {
    this.q.redeliver!.run(callback.status, callback.error, at, id)
  }

  cancel(id: string, now: number): boolean {
    return storageWrite(this.db, 'cancel', () => this.q.cancel!.run(now, id).changes > 0, { admit: false })
  }

  get(id: string): CallRow | undefined {
    return this.q.get!.get(id) as CallRow | undefined
  }

  /** Unfinished calls per function and state. */
  pendingCounts(): { fnKey: string; state: CallState; n: number }[] {
    const rows = (this.q.counts!.all() as { fn_key: string; state: CallState; n: number }[]).map((r) => ({ fnKey: r.fn_key, state: r.state, n: r.n }))
    if (this.recoverPending) for (const r of rows) if (r.state === 'running') r.state = 'queued'
    return rows
  }

  /** Forgets finished calls older than `before`; returns how many. */
  prune(before: number): number {
    return bestEffortWrite(this.db, 'async prune', () => this.q.prune!.run(before).changes) ?? 0
  }
}

/** done for a 2xx or 3xx result, failed otherwise. */
export function finalState(status: number): 'done' | 'failed' {
  return status >= 200 && status < 400 ? 'done' : 'failed'
}
