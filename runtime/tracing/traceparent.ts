// W3C Trace Context (https://www.w3.org/TR/trace-context/): the traceparent header a call brings is
// checked, and each hop gets a span id of its own. A malformed header is replaced by a new trace,
// never passed on or echoed (it comes from an untrusted caller).
import { randomFillSync } from 'node:crypto'

export interface TraceContext {
  /** 32 lower-case hex */
  traceId: string
  /** the span of the hop before (16 hex), or undefined at the root */
  parentSpanId: string | undefined
  /** this hop's span (16 hex) */
  spanId: string
  /** 2 hex: 01 = sampled */
  flags: string
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

/** The parts of a valid traceparent, or undefined (version ff, all-zero ids, wrong shape). */
export function parseTraceparent(value: string | undefined): { traceId: string; spanId: string; flags: string } | undefined {
  if (value === undefined || value.length > 512) return undefined
  const m = TRACEPARENT.exec(value.trim())
  if (!m) return undefined
  const [, version, traceId, spanId, flags, rest] = m
  if (version === 'ff' || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined
  // version 00 has exactly four fields; a later version may add more after a dash
  if (version === '00' && rest !== undefined) return undefined
  return { traceId: traceId!, spanId: spanId!, flags: flags! }
}

export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`
}

// random ids from a pooled buffer: one randomFillSync per 256 spans instead of one per id
const pool = Buffer.alloc(4096)
let at = pool.length

function randomHex(bytes: number): string {
  if (at + bytes > pool.length) {
    randomFillSync(pool)
    at = 0
  }
  const s = pool.toString('hex', at, at + bytes)
  at += bytes
  return s
}

export const newSpanId = (): string => randomHex(8)
export const newTraceId = (): string => randomHex(16)

/**
 * This hop's context: a child of the caller's traceparent when it is valid, else a new trace
 * (sampled). The headers are rewritten to carry it (and a tracestate goes with a dropped parent).
 */
export function continueTrace(headers: Record<string, string>): TraceContext {
  const given = parseTraceparent(headers.traceparent)
  const t: TraceContext = given
    ? { traceId: given.traceId, parentSpanId: given.spanId, spanId: newSpanId(), flags: given.flags }
    : { traceId: newTraceId(), parentSpanId: undefined, spanId: newSpanId(), flags: '01' }
  if (!given) delete headers.tracestate
  headers.traceparent = formatTraceparent(t)
  return t
}
