// The CGI contract of WASI command functions, as OpenFaaS's classic watchdog and WAGI define it:
// the request becomes environment variables, and stdout may start with a CGI header block.
import { addResponseHeader, type InvokeRequest, type ResponseHeaders } from '../tier.js'
import { isHopByHop } from '../http-headers.js'

/** Go's canonical header form: "x-call-id" -> "X-Call-Id". */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())
}

/**
 * Http_* variable names of the header names seen so far: the same few names arrive with every call,
 * and canonicalising them is most of the environment's cost. Bounded, so that callers sending
 * made-up header names cannot grow it: past the bound a name is computed and not kept.
 */
const headerVarNames = new Map<string, string>()
const MAX_CACHED_HEADER_NAMES = 1024

function headerVarName(header: string): string {
  let name = headerVarNames.get(header)
  if (name === undefined) {
    name = `Http_${canonicalHeaderName(header).replace(/-/g, '_')}`
    if (headerVarNames.size < MAX_CACHED_HEADER_NAMES) headerVarNames.set(header, name)
  }
  return name
}

/** Http_* names the gateway sets itself: a request header never produces one (Http_Query too, when unset). */
export const GATEWAY_HTTP_VARS: ReadonlySet<string> = new Set(['Http_Method', 'Http_Path', 'Http_Query', 'Http_Content_Length', 'Http_ContentLength'])

/**
 * The environment of one call, one entry per name: the request headers as Http_* variables, then
 * the deployment's envVars, then the classic watchdog's gateway-set Http_* variables and the RFC
 * 3875 CGI variables. A later source replaces an earlier one (as the classic watchdog sets its
 * variables after the headers), so a caller's header can change neither what the gateway says
 * about the request nor what the deployment configured.
 */
export function cgiEnvironment(req: InvokeRequest, functionName: string, envVars: Record<string, string>): string[] {
  const env = new Map<string, string>()
  for (const [k, v] of Object.entries(req.headers)) {
    if (k === 'connection' || k === 'transfer-encoding') continue
    const name = headerVarName(k)
    if (!GATEWAY_HTTP_VARS.has(name)) env.set(name, v)
  }
  for (const [k, v] of Object.entries(envVars)) env.set(k, v)
  env.set('Http_Method', req.method)
  env.set('Http_Path', req.path)
  env.set('Http_Content_Length', String(req.body.length))
  if (req.query) env.set('Http_Query', req.query)
  else env.delete('Http_Query')
  env.set('REQUEST_METHOD', req.method)
  env.set('PATH_INFO', safeDecode(req.path))
  env.set('QUERY_STRING', req.query)
  env.set('CONTENT_TYPE', req.headers['content-type'] ?? '')
  env.set('CONTENT_LENGTH', String(req.body.length))
  env.set('SCRIPT_NAME', `/function/${functionName}`)
  env.set('GATEWAY_INTERFACE', 'CGI/1.1')
  env.set('SERVER_PROTOCOL', 'HTTP/1.1')
  env.set('SERVER_SOFTWARE', 'kindling')
  return [...env].map(([k, v]) => `${k}=${v}`)
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
    if (isHopByHop(name, { contentLength: true })) continue
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
