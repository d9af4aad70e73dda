// The OpenFaaS watchdog settings a container function is deployed with (openfaas-api.md section 5),
// read once at prepare time from the image's default environment and the deployment's envVars.
import { KindlingError } from '../errors.js'

export type WatchdogMode = 'classic' | 'http'

/** Where kindling reaches an HTTP-mode server. */
export type Upstream = { kind: 'unix' } | { kind: 'tcp'; host: string; port: number }

export interface WatchdogSettings {
  mode: WatchdogMode
  /** fprocess split on spaces, no shell (as the classic watchdog does) */
  argv: string[]
  /** exec_timeout in ms; undefined when unset or 0 (the deadline of the call still applies) */
  execTimeoutMs: number | undefined
  /** max_inflight: concurrent calls per container, 0 = unlimited */
  maxInflight: number
  /** content_type: the response Content-Type when set */
  contentType: string | undefined
  upstream: Upstream
  /** ready_path: GET it until it answers 2xx before the first call (HTTP mode) */
  readyPath: string | undefined
  /** write_debug: also log stdout of classic processes */
  writeDebug: boolean
  /** combine_output: append stderr to the response body */
  combineOutput: boolean
}

/** The Unix socket an HTTP-mode server listens on inside the container, when it has no upstream_url. */
export const HTTP_SOCKET_IN_CONTAINER = '/run/kindling/http.sock'
export const HTTP_SOCKET_ENV = 'KINDLING_HTTP_SOCKET'

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** A Go duration ("1m30s", "500ms", "2.5s") or a bare number of seconds, in ms. */
export function parseGoDuration(value: string, key: string): number {
  const v = value.trim()
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(v)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!
    matched = re.lastIndex
  }
  if (v === '' || matched !== v.length) {
    throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${key}="${value}" is not a duration (use seconds, or Go form such as 10s, 1m30s, 500ms)`)
  }
  return total
}

function bool(value: string | undefined, key: string, dflt: boolean): boolean {
  if (value === undefined || value === '') return dflt
  if (/^(1|true|yes|on)$/i.test(value)) return true
  if (/^(0|false|no|off)$/i.test(value)) return false
  throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${key}="${value}" must be true or false`)
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '0.0.0.0', '[::1]', '::1', '[::]'])

function upstreamOf(env: Record<string, string>): Upstream {
  const raw = env['upstream_url'] || env['http_upstream_url']
  if (!raw || raw.startsWith('unix:')) return { kind: 'unix' }
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `upstream_url="${raw}" is not a URL (use http://127.0.0.1:PORT)`)
  }
  if (u.protocol !== 'http:' || !LOOPBACK.has(u.hostname)) {
    throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `upstream_url="${raw}": the server must listen inside its container, on http://127.0.0.1:PORT`)
  }
  const host = u.hostname === '[::1]' || u.hostname === '::1' ? '::1' : '127.0.0.1'
  return { kind: 'tcp', host, port: u.port ? Number(u.port) : 80 }
}

/**
 * Reads the watchdog variables. `env` is the image's default environment overlaid with the
 * deployment's envVars; `envProcess` is the deployment's fprocess field (it wins).
 */
export function watchdogSettings(env: Record<string, string>, envProcess: string | undefined): WatchdogSettings {
  const fprocess = (envProcess || env['fprocess'] || env['function_process'] || '').trim()
  if (!fprocess) {
    throw new KindlingError('KINDLING_ERR_MISSING_FIELD', 'the container tier needs fprocess (envProcess, or the fprocess environment variable of the image)')
  }
  const mode = (env['mode'] ?? '').trim().toLowerCase()
  let wmode: WatchdogMode
  if (mode === 'http') wmode = 'http'
  else if (mode === '' || mode === 'streaming' || mode === 'serializing' || mode === 'classic') wmode = 'classic'
  else {
    throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `mode="${env['mode']}" is not supported by the container tier; use mode=http, or leave it unset for one process per call`)
  }
  let execTimeoutMs: number | undefined
  if (env['exec_timeout'] !== undefined && env['exec_timeout'] !== '') {
    const ms = parseGoDuration(env['exec_timeout'], 'exec_timeout')
    execTimeoutMs = ms > 0 ? ms : undefined
  }
  let maxInflight = 0
  if (env['max_inflight'] !== undefined && env['max_inflight'] !== '') {
    maxInflight = Number(env['max_inflight'])
    if (!Number.isInteger(maxInflight) || maxInflight < 0) {
      throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `max_inflight="${env['max_inflight']}" must be a whole number (0 = unlimited)`)
    }
  }
  const readyPath = env['ready_path'] || undefined
  if (readyPath !== undefined && !readyPath.startsWith('/')) {
    throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `ready_path="${readyPath}" must start with "/"`)
  }
  return {
    mode: wmode,
    argv: fprocess.split(/\s+/).filter(Boolean),
    execTimeoutMs,
    maxInflight,
    contentType: env['content_type'] || undefined,
    upstream: upstreamOf(env),
    readyPath,
    writeDebug: bool(env['write_debug'], 'write_debug', false),
    combineOutput: bool(env['combine_output'], 'combine_output', false),
  }
}

/** "KEY=value" list -> record (later entries win). */
export function envRecord(list: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of list) {
    const i = kv.indexOf('=')
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return out
}
