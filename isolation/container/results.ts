// Error answers and response headers shared by both watchdog modes.
import { performance } from 'node:perf_hooks'
import type { InvokeRequest, InvokeResult } from '../tier.js'

export function errorResult(status: number, errorCode: string, message: string, t0: number): InvokeResult {
  const totalUs = (performance.now() - t0) * 1000
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: Buffer.from(message.endsWith('\n') ? message : message + '\n'),
    errorCode,
    timings: { instantiateUs: 0, runUs: totalUs, totalUs },
  }
}

/** The classic watchdog's rule: content_type if set, else the request's Content-Type, else text/plain. */
export function responseContentType(configured: string | undefined, req: InvokeRequest): string {
  return configured || req.headers['content-type'] || 'text/plain'
}
