// A trigger's delivery becomes an asynchronous call, accepted by the same queue as
// POST /async-function (the data dir's SQLite queue, or JetStream in a cluster), so the function's
// retry policy, its logs and GET /system/async-calls/{id} apply. The function sees the trigger in
// X-Kindling-Trigger (cron or nats), and a NATS subject in X-Topic as the OpenFaaS connectors send it.
import { randomUUID } from 'node:crypto'
import client from 'prom-client'
import type { AsyncCalls } from '../async/queue.js'
import { asKindlingError } from '../errors.js'
import type { LogHub } from '../logs.js'
import type { Metrics } from '../metrics.js'

export type TriggerKind = 'cron' | 'nats'

export interface Delivery {
  fnKey: string
  trigger: TriggerKind
  body: Buffer
  /** extra request headers (lower case) */
  headers: Record<string, string>
  /** said in the log line: the tick or the subject */
  what: string
}

export class TriggerDelivery {
  private readonly counter: client.Counter<'function_name' | 'trigger' | 'result'>

  constructor(private readonly deps: { queue: AsyncCalls; metrics: Metrics; logs: LogHub }) {
    const registers = [deps.metrics.registry]
    this.counter = (deps.metrics.registry.getSingleMetric('kindling_trigger_deliveries_total') as typeof this.counter | undefined) ??
      new client.Counter({ name: 'kindling_trigger_deliveries_total', help: 'Cron ticks and NATS messages turned into asynchronous calls, by trigger (cron, nats) and result (accepted, failed)', labelNames: ['function_name', 'trigger', 'result'], registers })
  }

  /** Accepts the call; returns its id, or undefined when the queue refused it (logged and counted). */
  async deliver(d: Delivery): Promise<string | undefined> {
    const id = randomUUID()
    const dot = d.fnKey.lastIndexOf('.')
    try {
      await this.deps.queue.accept({
        id,
        fnKey: d.fnKey,
        name: d.fnKey.slice(0, dot),
        namespace: d.fnKey.slice(dot + 1),
        method: 'POST',
        path: '/',
        query: '',
        headers: { ...d.headers, 'x-kindling-trigger': d.trigger, 'x-call-id': id },
        body: d.body,
        callbackUrl: undefined,
        createdAt: Date.now(),
      })
    } catch (e) {
      this.counter.labels(d.fnKey, d.trigger, 'failed').inc()
      this.log(d.fnKey, `${d.trigger} trigger (${d.what}): the call was not queued: ${asKindlingError(e).message}`)
      return undefined
    }
    this.counter.labels(d.fnKey, d.trigger, 'accepted').inc()
    this.log(d.fnKey, `${d.trigger} trigger (${d.what}): async call ${id} queued`)
    return id
  }

  log(fnKey: string, text: string): void {
    this.deps.logs.write({ key: fnKey, instance: 'trigger', stream: 'system', text })
  }
}
