// Where a sync call runs in a cluster: a pure function of the workers' heartbeat records and what
// this gateway has sent since. Only a worker whose record lists the function's tier is ever chosen
// (none: KINDLING_ERR_NO_WORKER). Functions of an application that share an app label trust each
// other and share one app host, so they all go to one worker, the same one from every gateway
// (rendezvous hashing on the app name). Otherwise: a worker with a warm idle sandbox of the function
// first, then the least loaded (calls in flight, then load average); this node itself wins a tie.
import crypto from 'node:crypto'
import type { TierName } from '../../../isolation/tier.js'
import { KindlingError } from '../../errors.js'
import { isWorker, type NodeRecord } from '../membership.js'

export interface PlacedFunction {
  /** name.namespace */
  key: string
  tier: TierName
  /** set when the app label groups functions that trust each other (then they share a worker) */
  sharedApp?: string
}

export interface PlacementView {
  /** calls this gateway sent to a worker since that worker's last heartbeat (not yet in its record) */
  pending?: ReadonlyMap<string, number>
  /** this node's id (a node with role all serves a call itself at no hop cost on a tie) */
  selfId?: string
}

const score = (app: string, id: string) => crypto.createHash('sha256').update(`${app}\0${id}`).digest().readUInt32BE(0)

export function place(nodes: readonly NodeRecord[], fn: PlacedFunction, view: PlacementView = {}): NodeRecord {
  const fit = nodes.filter((n) => isWorker(n) && n.tiers.includes(fn.tier))
  if (fit.length === 0) throw new KindlingError('KINDLING_ERR_NO_WORKER', `no live worker can run tier ${fn.tier} for ${fn.key}`)
  if (fn.sharedApp !== undefined) {
    const app = fn.sharedApp
    return fit.reduce((best, n) => {
      const a = score(app, n.id)
      const b = score(app, best.id)
      return a > b || (a === b && n.id < best.id) ? n : best
    })
  }
  const pending = (n: NodeRecord) => view.pending?.get(n.id) ?? 0
  // warm idle sandboxes not yet taken by calls this gateway already sent there
  const warm = (n: NodeRecord) => ((n.warm[fn.key] ?? 0) > pending(n) ? 1 : 0)
  const busy = (n: NodeRecord) => n.inflight + pending(n)
  let best = fit[0]!
  for (const n of fit.slice(1)) {
    const d = warm(n) - warm(best) || busy(best) - busy(n) || best.load - n.load
    if (d > 0 || (d === 0 && n.id === view.selfId)) best = n
  }
  return best
}
