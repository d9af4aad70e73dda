// Who is in the cluster: every node puts its own record into the KV bucket `kindling_nodes` once a
// heartbeat (the bucket's max age drops records nobody refreshes), and watches the bucket to keep a
// map of the others. Liveness is judged by when this node last heard of a record, not by the
// sender's clock. Gateways read the workers' records to place calls (warm sandboxes, load, tiers).
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv'
import type { TierName } from '../../isolation/tier.js'
import type { ClusterLink } from './connect.js'

export type NodeRole = 'gateway' | 'worker' | 'all'

export interface NodeRecord {
  /** stable across restarts of the same data dir */
  id: string
  role: NodeRole
  /** the node's gateway base URL (direct HTTP between nodes uses it) */
  url: string
  /** tiers that can run on this node now (empty for a gateway-only node) */
  tiers: TierName[]
  /** function key (name.namespace) -> idle warm sandboxes */
  warm: Record<string, number>
  /** calls running on this node now */
  inflight: number
  /** 1-minute load average divided by the CPU count */
  load: number
  startedAt: string
  /** the sender's time of this heartbeat (for display; liveness uses the receive time) */
  sentAt: string
}

export const NODES_BUCKET = 'kindling_nodes'

export const isWorker = (n: Pick<NodeRecord, 'role'>) => n.role === 'worker' || n.role === 'all'

export interface MembershipOptions {
  heartbeatMs: number
  /** a node not heard of for this long is gone */
  ttlMs: number
}

export class Membership {
  private kv: KV | undefined
  private readonly seen = new Map<string, { rec: NodeRecord; at: number }>()
  private timer: NodeJS.Timeout | undefined
  private readonly listeners: (() => void)[] = []
  private stopped = false

  constructor(
    private readonly link: ClusterLink,
    private readonly self: () => NodeRecord,
    private readonly opts: MembershipOptions,
  ) {}

  async start(): Promise<void> {
    // max age: a few heartbeats, so a dead node's record leaves the bucket too
    this.kv = await new Kvm(this.link.nc).create(NODES_BUCKET, { history: 1, ttl: Math.max(this.opts.ttlMs * 3, 1000) })
    const watch = await this.kv.watch({ include: KvWatchInclude.LastValue })
    void (async () => {
      for await (const e of watch) {
        if (e.operation === 'PUT') {
          try {
            const rec = e.json<NodeRecord>()
            this.seen.set(rec.id, { rec, at: Date.now() })
          } catch {
            continue // not a record this version writes
          }
        } else this.seen.delete(e.key)
        for (const fn of this.listeners) fn()
      }
    })().catch(() => {})
    await this.beat()
    this.timer = setInterval(() => void this.beat(), this.opts.heartbeatMs)
    this.timer.unref()
  }

  /** puts this node's record now (also after a change that placement should see at once) */
  async beat(): Promise<void> {
    if (!this.kv || this.stopped || !this.link.connected()) return
    const rec = this.self()
    await this.kv.put(rec.id, JSON.stringify(rec)).catch(() => {})
  }

  /** live nodes, this one included once its first heartbeat came back */
  nodes(): NodeRecord[] {
    const now = Date.now()
    const out: NodeRecord[] = []
    for (const [id, s] of this.seen) {
      if (now - s.at > this.opts.ttlMs) this.seen.delete(id)
      else out.push(s.rec)
    }
    return out
  }

  workers(): NodeRecord[] {
    return this.nodes().filter(isWorker)
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn)
  }

  /** leaves the cluster: stops the heartbeat and deletes this node's record */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    if (this.kv && this.link.connected()) await this.kv.delete(this.self().id).catch(() => {})
  }
}
