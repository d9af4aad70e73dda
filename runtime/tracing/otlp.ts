// Spans out over OTLP/HTTP with JSON bodies (POST {endpoint}/v1/traces), in batches from a bounded
// queue: a call only pushes its span; a full queue or a collector that is down drops spans and
// counts them, and never slows a call or grows memory.
import type { TraceContext } from './traceparent.js'

export type AttributeValue = string | number | boolean

export interface FinishedSpan {
  trace: TraceContext
  name: string
  /** Unix nanoseconds, as decimal strings (OTLP/JSON's 64-bit integers) */
  startNs: string
  endNs: string
  attributes: Record<string, AttributeValue | undefined>
  error: boolean
  /** an outbound request of the call (issue 13 item 6); else a server span */
  client?: boolean
}

export interface OtlpExporterOptions {
  /** the collector's base URL (http://host:4318); /v1/traces is added unless the URL ends with it */
  endpoint: string
  /** spans waiting to be sent at most; more are dropped */
  maxQueue: number
  /** spans per request */
  batchSize: number
  /** how often a partial batch is sent */
  flushMs: number
  /** a request that takes longer is abandoned (its spans dropped) */
  timeoutMs: number
  serviceName: string
}

export class OtlpExporter {
  private queue: FinishedSpan[] = []
  private sending = false
  /** a send of a full batch is already scheduled */
  private soon = false
  private readonly url: string
  private readonly timer: NodeJS.Timeout
  exported = 0
  dropped = 0

  constructor(private readonly opts: OtlpExporterOptions) {
    const base = opts.endpoint.replace(/\/+$/, '')
    this.url = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`
    this.timer = setInterval(() => void this.send(), opts.flushMs)
    this.timer.unref()
  }

  push(span: FinishedSpan): void {
    if (this.queue.length >= this.opts.maxQueue) {
      this.dropped++
      return
    }
    this.queue.push(span)
    if (this.queue.length >= this.opts.batchSize) this.sendSoon()
  }

  private sendSoon(): void {
    if (this.soon || this.sending) return
    this.soon = true
    setImmediate(() => {
      this.soon = false
      void this.send()
    })
  }

  /** Sends one batch (one request at a time); failures drop the batch. */
  async send(): Promise<void> {
    if (this.sending || this.queue.length === 0) return
    this.sending = true
    const batch = this.queue.splice(0, this.opts.batchSize)
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(this.body(batch)),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      })
      await res.arrayBuffer().catch(() => {})
      if (res.ok) this.exported += batch.length
      else this.dropped += batch.length
    } catch {
      this.dropped += batch.length
    } finally {
      this.sending = false
    }
    if (this.queue.length >= this.opts.batchSize) this.sendSoon()
  }

  private body(batch: FinishedSpan[]) {
    return {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: this.opts.serviceName } }] },
        scopeSpans: [{
          scope: { name: 'kindling' },
          spans: batch.map((s) => ({
            traceId: s.trace.traceId,
            spanId: s.trace.spanId,
            ...(s.trace.parentSpanId ? { parentSpanId: s.trace.parentSpanId } : {}),
            name: s.name,
            kind: s.client ? 3 : 2, // SPAN_KIND_CLIENT, SPAN_KIND_SERVER
            startTimeUnixNano: s.startNs,
            endTimeUnixNano: s.endNs,
            attributes: attributesOf(s.attributes),
            status: { code: s.error ? 2 : 1 },
          })),
        }],
      }],
    }
  }

  /** Sends what is queued (shutdown), within the request timeout. */
  async close(): Promise<void> {
    clearInterval(this.timer)
    while (this.sending) await new Promise((r) => setTimeout(r, 5))
    // a collector that fails once is not waited for again
    let before = this.dropped
    while (this.queue.length && this.dropped === before) {
      before = this.dropped
      await this.send()
    }
  }
}

function attributesOf(a: Record<string, AttributeValue | undefined>) {
  const out = []
  for (const key in a) {
    const v = a[key]
    if (v === undefined) continue
    out.push({ key, value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v } })
  }
  return out
}
