// In a cluster every node runs the same schedules; a tick is delivered by the one node that first
// creates the key `<function>.<tick ms>` in a JetStream KV bucket (a create fails when the key
// exists). Node clocks may differ: the tick is computed from the schedule, so every node names the
// same key. Keys expire after an hour; no schedule fires the same instant again.
import { Kvm, type KV } from '@nats-io/kv'
import type { ClusterLink } from '../cluster/connect.js'

export const TICKS_BUCKET = 'kindling_trigger_ticks'
const TTL_MS = 3_600_000

export class TickClaims {
  private constructor(private readonly kv: KV, private readonly nodeId: string) {}

  static async open(link: ClusterLink, nodeId: string): Promise<TickClaims> {
    const kv = await new Kvm(link.nc).create(TICKS_BUCKET, { history: 1, ttl: TTL_MS })
    return new TickClaims(kv, nodeId)
  }

  /** true: this node delivers the tick; false: another node has it. Throws when NATS cannot answer. */
  async claim(fnKey: string, tickMs: number): Promise<boolean> {
    try {
      await this.kv.create(`${fnKey}.${tickMs}`, this.nodeId)
      return true
    } catch (e) {
      if (/wrong last sequence|key exists/i.test((e as Error).message)) return false
      throw e
    }
  }
}
