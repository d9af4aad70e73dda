// A hop that a traced call makes from inside its sandbox (a kindling.call, an outbound HTTP request):
// a child span of the call's own, carried in a traceparent of its own. The call's traceparent was
// checked by the gateway (runtime/tracing/traceparent.ts); anything else here means "not traced".
import { randomBytes } from 'node:crypto'

const TRACEPARENT_00 = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/

export interface ChildTrace {
  /** the traceparent the hop carries */
  traceparent: string
  spanId: string
  /** the call's span */
  parentSpanId: string
}

/** The context of a new child hop of the call whose traceparent is `tp`, or undefined when it is not traced. */
export function childTrace(tp: string | undefined): ChildTrace | undefined {
  if (tp === undefined || !TRACEPARENT_00.test(tp)) return undefined
  const spanId = randomBytes(8).toString('hex')
  return { traceparent: `${tp.slice(0, 36)}${spanId}${tp.slice(52, 55)}`, spanId, parentSpanId: tp.slice(36, 52) }
}
