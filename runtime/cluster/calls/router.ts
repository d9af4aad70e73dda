// The gateway's side of sync calls in a cluster: an Invoker like the local dispatcher, which places
// each call on a worker (placement.ts) and passes it there (HTTP or NATS), or runs it here when this
// node is a worker and the best place. It counts the calls it sent to each worker since that
// worker's last heartbeat, so a burst between heartbeats is spread; it fails a call whose worker
// died or left the cluster with KINDLING_ERR_WORKER_LOST, and places later calls on the others.
import { isErrorCode, KindlingError } from '../../errors.js'
import { functionKey } from '../../names.js'
import type { CallRequest, CancelSignal, InvokeResult, Invoker } from '../../pool/dispatcher.js'
import type { Registry } from '../../registry/registry.js'
import { LABEL } from '../../spec.js'
import type { Membership, NodeRecord } from '../membership.js'
import { type AnswerHead, callHead } from './frame.js'
import { NODE_HEADER } from './names.js'
import { place, type PlacedFunction } from './placement.js'
import { CallNotSent, type Transport } from './transport.js'

export interface RouterDeps {
  registry: Pick<Registry, 'getByKey'>
  membership: Pick<Membership, 'workers'>
  selfId: string
  /** this node's dispatcher when it runs calls itself (role all) */
  local: Invoker | undefined
  transport: Transport
  /** a call's time budget is its function's timeout plus this (the wait for a sandbox) */
  queueWaitMs: number
  /** how often calls in flight are checked against the live workers */
  livenessMs?: number
}

/** slack past the worker's own budget before the gateway gives up on an answer */
const ANSWER_SLACK_MS = 2000

export class ClusterRouter implements Invoker {
  private readonly pending = new Map<string, number>()
  /** the heartbeat (sentAt) a worker's pending count started from */
  private readonly beatOf = new Map<string, string>()
  /** workers a call just failed to reach or lost, by the heartbeat they had then: left out until a newer one */
  private readonly suspect = new Map<string, string>()
  /** calls in flight per worker: how to fail each when the worker is lost */
  private readonly inflight = new Map<string, Set<(e: KindlingError) => void>>()
  private readonly ticker: NodeJS.Timeout
  /** workers being probed now, and the ones whose last probe found no connection (one more miss: lost) */
  private readonly probing = new Set<string>()
  private readonly missed = new Map<string, number>()

  constructor(private readonly deps: RouterDeps) {
    this.ticker = setInterval(() => this.checkLiveness(), deps.livenessMs ?? 250)
    this.ticker.unref()
  }

  get transport(): Transport['name'] {
    return this.deps.transport.name
  }

  invoke(name: string, namespace: string, req: CallRequest, signal: CancelSignal): Promise<InvokeResult> {
    const key = functionKey(name, namespace)
    if (!this.deps.registry.getByKey(key)) return Promise.reject(new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${name} is not deployed in namespace ${namespace}`))
    return this.invokeKey(key, req, signal)
  }

  async invokeKey(key: string, req: CallRequest, signal: CancelSignal): Promise<InvokeResult> {
    const v = this.deps.registry.getByKey(key)
    if (!v) throw new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', `function ${key} is not deployed`)
    const fn: PlacedFunction = { key, tier: v.settings.tier, sharedApp: v.stored.deployment.labels?.[LABEL.app] ? v.settings.app : undefined }
    const budgetMs = v.settings.timeoutMs + this.deps.queueWaitMs
    const notSent = new Set<string>()
    for (;;) {
      const workers = this.deps.membership.workers().filter((n) => !notSent.has(n.id) && this.suspect.get(n.id) !== n.sentAt)
      const node = place(workers, fn, { pending: this.pendingFor(workers), selfId: this.deps.selfId })
      this.pending.set(node.id, (this.pending.get(node.id) ?? 0) + 1)
      if (node.id === this.deps.selfId && this.deps.local) {
        const r = await this.deps.local.invokeKey(key, req, signal)
        r.headers[NODE_HEADER] = node.id
        return r
      }
      try {
        return await this.remote(node, key, req, budgetMs, signal)
      } catch (e) {
        // it never reached that worker: another one may take it
        if (e instanceof CallNotSent) {
          notSent.add(node.id)
          this.suspect.set(node.id, node.sentAt)
          continue
        }
        if (e instanceof KindlingError && e.code === 'KINDLING_ERR_WORKER_LOST') this.suspect.set(node.id, node.sentAt)
        throw e
      }
    }
  }

  private async remote(node: NodeRecord, key: string, req: CallRequest, budgetMs: number, signal: CancelSignal): Promise<InvokeResult> {
    const ac = new AbortController()
    let failure: KindlingError | undefined
    const fail = (e: KindlingError) => {
      failure ??= e
      ac.abort()
    }
    const onClientGone = () => ac.abort()
    if (signal.aborted) ac.abort()
    signal.addEventListener('abort', onClientGone, { once: true })
    const timer = setTimeout(() => fail(new KindlingError('KINDLING_ERR_TIMEOUT', `worker ${node.id} did not answer call ${req.callId} within its budget of ${budgetMs} ms`)), budgetMs + ANSWER_SLACK_MS)
    let set = this.inflight.get(node.id)
    if (!set) this.inflight.set(node.id, (set = new Set()))
    set.add(fail)
    try {
      const out = await this.deps.transport.call(node.url, node.id, callHead(key, req, budgetMs), req.body, ac.signal).catch((e: unknown) => {
        throw failure ?? e
      })
      return resultOf(out)
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onClientGone)
      set.delete(fail)
      if (set.size === 0) this.inflight.delete(node.id)
    }
  }

  /** counts since each worker's last heartbeat: a new heartbeat already holds the calls sent before it */
  private pendingFor(workers: readonly NodeRecord[]): ReadonlyMap<string, number> {
    for (const w of workers) {
      if (this.beatOf.get(w.id) !== w.sentAt) {
        this.beatOf.set(w.id, w.sentAt)
        this.pending.set(w.id, 0)
      }
    }
    return this.pending
  }

  private checkLiveness(): void {
    if (this.inflight.size === 0) return
    const live = new Set(this.deps.membership.workers().map((n) => n.id))
    for (const id of this.suspect.keys()) if (!live.has(id)) this.suspect.delete(id)
    for (const [id, calls] of this.inflight) {
      if (!live.has(id)) {
        const e = new KindlingError('KINDLING_ERR_WORKER_LOST', `worker ${id} left the cluster (no heartbeat) while it ran the call`)
        for (const fail of [...calls]) fail(e)
      } else this.probe(id)
    }
  }

  /**
   * Asks the transport whether a worker with calls in flight can still answer; misses that go on for
   * a second (longer than a NATS reconnect) fail its calls then rather than at its heartbeat's expiry.
   */
  private probe(id: string): void {
    const reachable = this.deps.transport.reachable
    if (!reachable || this.probing.has(id)) return
    this.probing.add(id)
    void reachable.call(this.deps.transport, id).then((ok) => {
      this.probing.delete(id)
      if (ok) return void this.missed.delete(id)
      // the first miss of a run starts it; lost once misses went on for a second (a NATS reconnect
      // of the worker is shorter, and its answers would still come), a run older than 3 s restarts
      const first = this.missed.get(id)
      const now = Date.now()
      if (first === undefined || now - first > 3000) return void this.missed.set(id, now)
      if (now - first < 1000) return
      this.missed.delete(id)
      const e = new KindlingError('KINDLING_ERR_WORKER_LOST', `worker ${id} lost its connection to NATS while it ran the call`)
      for (const fail of [...(this.inflight.get(id) ?? [])]) fail(e)
    })
  }

  close(): void {
    clearInterval(this.ticker)
    void this.deps.transport.close()
  }
}

function resultOf(out: { head: AnswerHead; body: Buffer }): InvokeResult {
  const h = out.head
  // refused or failed before it ran on the worker (not found there, overloaded, cancelled): the same error here
  if (h.message !== undefined) throw new KindlingError(isErrorCode(h.errorCode) ? h.errorCode : 'KINDLING_ERR_INTERNAL', h.message)
  const headers = h.headers ?? {}
  headers[NODE_HEADER] = h.node
  return { status: h.status, headers, body: out.body, errorCode: h.errorCode }
}
