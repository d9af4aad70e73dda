// Retries of asynchronous calls, as OpenFaaS Pro's queue worker has them: per-function
// annotations over kindling-wide defaults, exponential backoff with jitter, Retry-After honoured.
import { KindlingError } from '../errors.js'
import { parseDurationMs } from '../quantities.js'

export const RETRY_ANNOTATION = {
  attempts: 'com.openfaas.retry.attempts',
  codes: 'com.openfaas.retry.codes',
  minWait: 'com.openfaas.retry.min_wait',
  maxWait: 'com.openfaas.retry.max_wait',
} as const

export interface RetryPolicy {
  /** retries after the first run (0 = never retried) */
  attempts: number
  /** statuses that are retried */
  codes: ReadonlySet<number>
  /** the first backoff; it doubles per retry up to maxWaitMs */
  minWaitMs: number
  maxWaitMs: number
}

/** Longest Retry-After kindling waits for; a larger value is clamped. */
const MAX_RETRY_AFTER_MS = 3_600_000

function bad(key: string, v: string, what: string): never {
  throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `annotation ${key}=${JSON.stringify(v)} must be ${what}`)
}

function parseCodes(v: string, key: string): Set<number> {
  const out = new Set<number>()
  for (const part of v.split(',')) {
    const t = part.trim()
    if (t === '') continue
    if (!/^[1-5]\d\d$/.test(t)) bad(key, v, 'a comma-separated list of HTTP statuses')
    out.add(Number(t))
  }
  return out
}

function parseWait(v: string, key: string): number {
  const ms = parseDurationMs(v)
  if (ms === undefined || ms < 0) bad(key, v, 'a duration such as 10s or 500ms')
  return ms
}

/** The parts of a policy a deployment's annotations set; throws a 400 for a value that does not parse. */
export function retryOverrides(annotations: Record<string, string>): Partial<RetryPolicy> {
  const out: Partial<RetryPolicy> = {}
  const a = annotations[RETRY_ANNOTATION.attempts]
  if (a !== undefined && a !== '') {
    if (!/^\d+$/.test(a.trim())) bad(RETRY_ANNOTATION.attempts, a, 'an integer of at least 0')
    out.attempts = Number(a)
  }
  const c = annotations[RETRY_ANNOTATION.codes]
  if (c !== undefined && c !== '') out.codes = parseCodes(c, RETRY_ANNOTATION.codes)
  const min = annotations[RETRY_ANNOTATION.minWait]
  if (min !== undefined && min !== '') out.minWaitMs = parseWait(min, RETRY_ANNOTATION.minWait)
  const max = annotations[RETRY_ANNOTATION.maxWait]
  if (max !== undefined && max !== '') out.maxWaitMs = parseWait(max, RETRY_ANNOTATION.maxWait)
  if (out.minWaitMs !== undefined && out.maxWaitMs !== undefined && out.maxWaitMs < out.minWaitMs) {
    bad(RETRY_ANNOTATION.maxWait, max!, `at least ${RETRY_ANNOTATION.minWait}`)
  }
  return out
}

export function retryPolicy(defaults: RetryPolicy, overrides: Partial<RetryPolicy>): RetryPolicy {
  const p = { ...defaults, ...overrides }
  // a min_wait above the default max_wait (or the reverse) keeps the one the user set
  if (p.maxWaitMs < p.minWaitMs) p.maxWaitMs = overrides.maxWaitMs === undefined ? p.minWaitMs : p.maxWaitMs
  if (p.minWaitMs > p.maxWaitMs) p.minWaitMs = p.maxWaitMs
  return p
}

/**
 * Delay before retry number `retry` (1 for the first retry): min_wait doubling per retry, capped
 * at max_wait, with jitter in [half, full] so that calls failing together do not retry together.
 */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxWaitMs, policy.minWaitMs * 2 ** Math.min(retry - 1, 30))
  return Math.round(exp / 2 + (exp / 2) * random())
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unusable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const v = value.trim()
  let ms: number
  if (/^\d+$/.test(v)) ms = Number(v) * 1000
  else {
    const t = Date.parse(v)
    if (Number.isNaN(t)) return undefined
    ms = Math.max(0, t - now)
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS)
}
