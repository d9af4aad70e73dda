// Keeps each deployed function's triggers in step with the registry: a version that becomes
// current (deploy, update, start-up, a change from another cluster node) sets its schedule and
// subjects; its removal drops them. Deliveries go through TriggerDelivery into the async queue.
import type { AsyncCalls } from '../async/queue.js'
import type { ClusterLink } from '../cluster/connect.js'
import { asKindlingError } from '../errors.js'
import type { LogHub } from '../logs.js'
import type { Metrics } from '../metrics.js'
import type { DeploymentVersion, Registry } from '../registry/registry.js'
import { TickClaims } from './claims.js'
import { TriggerDelivery } from './deliver.js'
import { NatsSubjects } from './nats-subjects.js'
import { type Clock, CronScheduler, realClock } from './scheduler.js'
import { triggersOf } from './spec.js'

export interface TriggerDeps {
  registry: Registry
  queue: AsyncCalls
  metrics: Metrics
  logs: LogHub
  /** the cluster's NATS connection: NATS subjects, and one node per cron tick */
  link?: ClusterLink
  nodeId?: string
  /** largest NATS message taken as a call body */
  maxBodyBytes: number
  clock?: Clock
}

export class Triggers {
  readonly scheduler: CronScheduler
  readonly subjects: NatsSubjects | undefined
  private readonly delivery: TriggerDelivery
  /** the version each function's triggers were set from */
  private readonly current = new Map<string, DeploymentVersion>()
  private closed = false

  private constructor(private readonly deps: TriggerDeps, private readonly claims: TickClaims | undefined) {
    this.scheduler = new CronScheduler(deps.clock ?? realClock)
    this.delivery = new TriggerDelivery(deps)
    this.subjects = deps.link && new NatsSubjects(deps.link.nc, (fnKey, subject, msg) => {
      if (msg.data.length > deps.maxBodyBytes) {
        this.delivery.log(fnKey, `nats trigger (${subject}): a message of ${msg.data.length} bytes is above KINDLING_MAX_BODY_BYTES; dropped`)
        return
      }
      const headers: Record<string, string> = { 'x-topic': subject }
      const type = msg.headers?.get('Content-Type')
      if (type) headers['content-type'] = type
      void this.delivery.deliver({ fnKey, trigger: 'nats', body: Buffer.from(msg.data), headers, what: `subject ${subject}` }).then((id) => {
        try {
          if (msg.reply) msg.respond(id ?? '')
        } catch {
          /* the connection closed meanwhile: the requester times out */
        }
      })
    })
  }

  static async start(deps: TriggerDeps): Promise<Triggers> {
    const claims = deps.link ? await TickClaims.open(deps.link, deps.nodeId ?? 'node') : undefined
    const t = new Triggers(deps, claims)
    // a listener that throws would fail the deploy that emitted the event: failures are logged instead
    const guarded = (key: string, fn: () => void) => {
      try {
        fn()
      } catch (e) {
        t.delivery.log(key, `triggers could not be changed: ${(e as Error).message}`)
      }
    }
    deps.registry.on('activated', (e) => guarded(e.version.key, () => t.apply(e.version)))
    deps.registry.on('retired', (e) => guarded(e.version.key, () => {
      // an update activates the new version first: only the version the triggers came from drops them
      if (t.current.get(e.version.key) === e.version) t.drop(e.version.key)
    }))
    for (const v of deps.registry.list()) guarded(v.key, () => t.apply(v))
    return t
  }

  private apply(v: DeploymentVersion): void {
    if (this.closed) return
    let spec
    try {
      spec = triggersOf(v.stored.deployment.annotations)
    } catch (e) {
      // checked at deploy; a deployment stored by an older kindling may still hold a bad one
      this.drop(v.key)
      this.delivery.log(v.key, `triggers not set: ${asKindlingError(e).message}`)
      return
    }
    this.current.set(v.key, v)
    if (spec.cron) {
      const text = spec.cron.text
      this.scheduler.set(v.key, spec.cron, (tick) => void this.fire(v.key, text, tick))
    } else this.scheduler.delete(v.key)
    if (this.subjects) this.subjects.set(v.key, spec.subjects)
    else if (spec.subjects.length) this.delivery.log(v.key, `topic ${spec.subjects.join(',')}: no NATS server is configured (KINDLING_NATS_URL); the subjects are not subscribed`)
  }

  private drop(key: string): void {
    this.current.delete(key)
    this.scheduler.delete(key)
    this.subjects?.delete(key)
  }

  private async fire(fnKey: string, schedule: string, tick: number): Promise<void> {
    const at = new Date(tick).toISOString()
    if (this.claims) {
      try {
        if (!(await this.claims.claim(fnKey, tick))) return
      } catch (e) {
        this.delivery.log(fnKey, `cron trigger (${schedule} at ${at}): the tick could not be claimed in NATS, so no node may deliver it: ${(e as Error).message}`)
        return
      }
    }
    await this.delivery.deliver({ fnKey, trigger: 'cron', body: Buffer.alloc(0), headers: { 'x-kindling-schedule': schedule, 'x-kindling-tick': at }, what: `${schedule} at ${at}` })
  }

  close(): void {
    this.closed = true
    this.scheduler.close()
    this.subjects?.close()
  }
}
