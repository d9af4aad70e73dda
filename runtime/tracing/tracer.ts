// A span per hop of a call (issue 13, item 6): the dispatcher starts one when the call comes in and
// ends it with the call. Without an OTLP endpoint only a caller's traceparent is checked and passed
// on (a call without one costs a property read); with one, every call gets a span.
import type { CallRequest, CallSpanNotes, InvokeResult } from '../../isolation/tier.js'
import type { OtlpExporter } from './otlp.js'
import { continueTrace, type TraceContext } from './traceparent.js'

export interface ActiveSpan {
  trace: TraceContext
  notes: CallSpanNotes
  startNs: bigint
}

const nowNs = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n

export class Tracer {
  constructor(readonly exporter: OtlpExporter | undefined) {}

  /** Checks and continues the call's traceparent; a span only when spans are exported. */
  start(req: CallRequest): ActiveSpan | undefined {
    if (!this.exporter) {
      if (req.headers.traceparent !== undefined) continueTrace(req.headers)
      return undefined
    }
    const span: ActiveSpan = { trace: continueTrace(req.headers), notes: {}, startNs: nowNs() }
    req.span = span.notes
    return span
  }

  end(span: ActiveSpan, key: string, tier: string, callId: string, status: number, r: InvokeResult | undefined, errorCode: string | undefined): void {
    const n = span.notes
    const dot = key.lastIndexOf('.')
    this.exporter!.push({
      trace: span.trace,
      name: key,
      startNs: String(span.startNs),
      endNs: String(nowNs()),
      error: status >= 500,
      attributes: {
        'faas.name': key.slice(0, dot),
        'faas.invocation_id': callId,
        'faas.coldstart': n.waitedFor !== undefined,
        'kindling.namespace': key.slice(dot + 1),
        'kindling.tier': tier,
        'kindling.sandbox.id': n.sandboxId,
        'http.response.status_code': status,
        'kindling.error_code': errorCode,
        'kindling.cold_start.prepare_us': n.waitedFor?.prepareUs,
        'kindling.cold_start.spawn_us': n.waitedFor?.spawnUs,
        'kindling.cold_start.instantiate_us': n.waitedFor?.instantiateUs,
        // a fresh instance made for this call on its critical path (state mode fresh)
        'kindling.call.instantiate_us': r?.timings?.instantiateUs,
        'kindling.call.run_us': r?.timings?.runUs,
      },
    })
    // the kindling.call hops it made, run inside its sandbox
    for (const h of r?.hops ?? []) {
      const startNs = BigInt(Math.round(h.startMs * 1000)) * 1000n
      if (h.client) {
        // an outbound HTTP request the call made (OpenTelemetry's HTTP client conventions)
        this.exporter!.push({
          trace: { traceId: span.trace.traceId, parentSpanId: h.parentSpanId, spanId: h.spanId, flags: span.trace.flags },
          name: h.name,
          client: true,
          startNs: String(startNs),
          endNs: String(startNs + BigInt(Math.round(h.durUs)) * 1000n),
          error: h.status >= 500 || h.status < 0,
          attributes: {
            'http.request.method': h.name,
            'server.address': h.client.host,
            'server.port': h.client.port,
            'http.response.status_code': h.status >= 0 ? h.status : undefined,
            'kindling.error_code': h.client.error,
            'kindling.tier': tier,
          },
        })
        continue
      }
      this.exporter!.push({
        trace: { traceId: span.trace.traceId, parentSpanId: h.parentSpanId, spanId: h.spanId, flags: span.trace.flags },
        name: h.name,
        startNs: String(startNs),
        endNs: String(startNs + BigInt(Math.round(h.durUs)) * 1000n),
        error: h.status >= 500 || h.status < 0,
        attributes: { 'faas.name': h.name.slice(0, h.name.lastIndexOf('.')), 'kindling.tier': tier, 'kindling.chained': true, 'http.response.status_code': h.status },
      })
    }
  }
}
