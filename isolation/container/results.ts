// Error answers and response headers shared by both watchdog modes.
import { performance } from 'node:perf_hooks'
import { type ErrorCode, failedResult } from '../errors.js'
import type { InvokeRequest, InvokeResult } from '../tier.js'

/** A call kindling failed (status and JSON body from the error table), timed from t0. */
export function errorResult(code: ErrorCode, detail: string, t0: number): InvokeResult {
  const totalUs = (performance.now() - t0) * 1000
  return failedResult(code, detail, { timings: { instantiateUs: 0, runUs: totalUs, totalUs } })
}

/** The classic watchdog's rule: content_type if set, else the request's Content-Type, else text/plain. */
export function responseContentType(configured: string | undefined, req: InvokeRequest): string {
  return configured || req.headers['content-type'] || 'text/plain'
}
