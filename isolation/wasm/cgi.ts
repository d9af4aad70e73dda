// The CGI contract of WASI command functions, as OpenFaaS's classic watchdog and WAGI define it:
// the request becomes environment variables, and stdout may start with a CGI header block.
import { addResponseHeader, type InvokeRequest, type ResponseHeaders } from '../tier.js'

/** Go's canonical header form: "x-call-id" -> "X-Call-Id". */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())
}

/**
 * The environment of one call: the deployment's envVars first, then the classic watchdog's Http_*
 * variables and the RFC 3875 CGI variables.
 */
export function cgiEnvironment(req: InvokeRequest, functionName: string, envVars: Record<string, string>): string[] {
  const env: string[] = []
  for (const [k, v] of Object.entries(envVars)) env.push(`${k}=${v}`)
  for (const [k, v] of Object.entries(req.headers)) {
    if (k === 'connection' || k === 'transfer-encoding') continue
    env.push(`Http_${canonicalHeaderName(k).replace(/-/g, '_')}=${v}`)
  }
  env.push(`Http_Method=${req.method}`, `Http_Path=${req.path}`, `Http_Content_Length=${req.body.length}`)
  if (req.query) env.push(`Http_Query=${req.query}`)
  env.push(
    `REQUEST_METHOD=${req.method}`,
    `PATH_INFO=${safeDecode(req.path)}`,
    `QUERY_STRING=${req.query}`,
    `CONTENT_TYPE=${req.headers['content-type'] ?? ''}`,
    `CONTENT_LENGTH=${req.body.length}`,
    `SCRIPT_NAME=/function/${functionName}`,
    'GATEWAY_INTERFACE=CGI/1.1',
    'SERVER_PROTOCOL=HTTP/1.1',
    'SERVER_SOFTWARE=kindling',
  )
  return env
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

export interface CgiResponse {
  status: number
  headers: ResponseHeaders
  body: Buffer
}

const HEADER_LINE = /^([A-Za-z0-9][A-Za-z0-9_-]*):[ \t]*(.*)$/
const MAX_HEADER_BLOCK = 16 * 1024
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'content-length', 'te', 'trailer'])

/**
 * Splits stdout into a CGI header block and the body. A header block counts only when it ends
 * with a blank line and names Content-Type, Status or Location; otherwise all of stdout is the
 * body (the classic watchdog contract). LF and CRLF are both accepted.
 */
export function parseCgiOutput(stdout: Buffer, fallbackContentType: string): CgiResponse {
  const plain = (): CgiResponse => ({ status: 200, headers: { 'content-type': fallbackContentType }, body: stdout })
  if (stdout.length === 0 || !isHeaderStart(stdout[0]!)) return plain()
  const limit = Math.min(stdout.length, MAX_HEADER_BLOCK)
  let end = -1
  let bodyStart = -1
  for (let i = 0; i < limit; i++) {
    if (stdout[i] !== 0x0a) continue
    if (stdout[i + 1] === 0x0a) {
      end = i
      bodyStart = i + 2
      break
    }
    if (stdout[i + 1] === 0x0d && stdout[i + 2] === 0x0a) {
      end = i
      bodyStart = i + 3
      break
    }
  }
  if (end < 0) return plain()
  const headers: ResponseHeaders = {}
  for (const raw of stdout.subarray(0, end).toString('latin1').split('\n')) {
    const line = raw.replace(/\r$/, '')
    const m = HEADER_LINE.exec(line)
    if (!m) return plain()
    const name = m[1]!.toLowerCase()
    if (HOP_BY_HOP.has(name)) continue
    addResponseHeader(headers, name, m[2]!)
  }
  const statusHeader = headers['status']
  const status = Array.isArray(statusHeader) ? statusHeader[0] : statusHeader
  if (headers['content-type'] === undefined && status === undefined && headers['location'] === undefined) return plain()
  delete headers['status']
  let code = 200
  if (status !== undefined) {
    const n = Number(/^\s*(\d{3})\b/.exec(status)?.[1])
    code = n >= 100 && n <= 599 ? n : 502
  } else if (headers['location'] !== undefined) {
    code = 302
  }
  if (headers['content-type'] === undefined) headers['content-type'] = fallbackContentType
  return { status: code, headers, body: stdout.subarray(bodyStart) }
}

function isHeaderStart(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
}
