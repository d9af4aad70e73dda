// Runs the gateway fuzz for a given time against a kindling in this process (fastify inject: no
// sockets), and checks after every case: no 5xx except the documented ones, no exception thrown
// out of the gateway, the gateway process's RSS under a bound; /healthz OK at the end.
// A failure is shrunk by fast-check; the run then goes on with a new seed until its time is up.
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { createKindling, type Kindling, loadConfig, REPO_ROOT } from '../../runtime/index.js'
import { loopbackCallbackSetting } from './callback-allow.js'
import { anyCase, type CaseInputs, deployCase, type FuzzCase, invokeCase, uploadCase } from './cases.js'

export interface FuzzOptions {
  seconds: number
  seed: number
  /** the gateway process's RSS must stay under this */
  rssLimitMiB: number
  /** which properties: all three interleaved, or one */
  only?: 'upload' | 'deploy' | 'invoke'
  knownIssues?: boolean
  progress?: (line: string) => void
}

export interface FuzzFailure {
  seed: number
  reason: string
  counterexample: unknown
  numShrinks: number
}

export interface FuzzReport {
  seconds: number
  seed: number
  cases: number
  casesByKind: Record<string, number>
  statuses: Record<string, number>
  /** statuses of each kind's first request (upload, deploy, invoke) */
  statusesByKind: Record<string, Record<string, number>>
  codes: Record<string, number>
  failures: FuzzFailure[]
  uncaught: string[]
  rssMiB: { start: number; max: number; end: number }
  healthzAtEnd: boolean
  callbacksReceived: number
}

/** 5xx a function's execution may answer with (README, errors.ts): the function failed, died, timed out. */
const FUNCTION_5XX_CODES = new Set([
  'KINDLING_ERR_FUNCTION_TRAP', 'KINDLING_ERR_FUNCTION_EXIT', 'KINDLING_ERR_FUNCTION_FAILED', 'KINDLING_ERR_MEMORY_LIMIT', 'KINDLING_ERR_STACK_OVERFLOW',
  'KINDLING_ERR_HOST_DIED', 'KINDLING_ERR_SANDBOX_FAILED', 'KINDLING_ERR_TIMEOUT', 'KINDLING_ERR_SHUTTING_DOWN',
])
/** 5xx any route may answer with: overload and full disk (issue 18 items 10 and 15). */
const ANY_ROUTE_5XX = new Set([503, 507])

const MiB = 1024 * 1024
const rssMiB = () => Math.round(process.memoryUsage().rss / MiB)

interface Answer {
  status: number
  code: string | undefined
  body: string
  /** the invoke route sets X-Duration-Seconds only on a function's own answer */
  fromFunction: boolean
}

/** Why this answer breaks a property, or null. */
export function judge(c: FuzzCase, a: Answer): string | null {
  if (a.code === 'KINDLING_ERR_INTERNAL') return `internal error ${a.status}: ${a.body.slice(0, 300)}`
  if (a.status < 500) return null
  if (ANY_ROUTE_5XX.has(a.status) && a.code !== undefined) return null
  const isCall = (c.kind === 'invoke' && c.url.startsWith('/function/')) || (c.kind === 'upload' && c.thenDeploy)
  if (isCall && a.code === undefined && a.fromFunction) return null // the function's own status
  if (isCall && a.code !== undefined && FUNCTION_5XX_CODES.has(a.code)) return null // the function failed, died or timed out
  return `${a.status} ${a.code ?? '(no code)'}: ${a.body.slice(0, 300)}`
}

function count(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.progress ?? (() => {})
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-fuzz-'))
  const uncaught: string[] = []
  const onUncaught = (e: unknown) => uncaught.push(e instanceof Error ? (e.stack ?? e.message) : String(e))
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)

  // the one callback target: a sink on loopback in this process
  let callbacksReceived = 0
  const sink = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      callbacksReceived++
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()))
  const callbackUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/cb`

  const allow = loopbackCallbackSetting()
  const config = loadConfig({}, {
    ...(allow ? { [allow.key]: allow.value } : {}),
    dataDir, port: 0, deployExamples: false, spareAppHosts: 0,
    maxBodyBytes: 1 * MiB, maxUploadBytes: 1 * MiB, execTimeoutMs: 2000,
    asyncRetryAttempts: 1, asyncRetryMinWaitMs: 100, asyncRetryMaxWaitMs: 500, asyncCallbackAttempts: 1, asyncCallbackTimeoutMs: 2000,
  })
  const k: Kindling = await createKindling(config)
  const creds = k.credentials!
  const auth = `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}`
  const inject = (method: string, url: string, headers: Record<string, string>, payload?: string | Buffer) =>
    k.app.inject({ method: method as 'GET', url, headers, payload })

  const examples = ['cat', 'echo', 'env', 'hello-cgi', 'reverse-bytes', 'noop', 'sha512sum', 'fib']
  const modules = examples.map((n) => new Uint8Array(fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', `${n}.wasm`))))
  const images: string[] = []
  for (const m of modules.slice(0, 6)) {
    const r = await inject('POST', '/system/artifacts', { authorization: auth, 'content-type': 'application/wasm' }, Buffer.from(m))
    if (r.statusCode !== 201) throw new Error(`setup upload: ${r.statusCode} ${r.body}`)
    images.push((r.json() as { image: string }).image)
  }
  const base: [string, number, string][] = [['f-cat', 0, 'inline'], ['f-echo', 1, 'wasm'], ['f-env', 2, 'thread'], ['f-cgi', 3, 'wasm'], ['f-rev', 4, 'process']]
  for (const [service, i, tier] of base) {
    const r = await inject('POST', '/system/functions', { authorization: auth, 'content-type': 'application/json' }, JSON.stringify({
      service, image: images[i], labels: { 'com.kindling.isolation': tier, 'com.kindling.app': 'fuzz', 'com.kindling.timeout': '2s' },
    }))
    if (r.statusCode !== 202) throw new Error(`setup deploy ${service}: ${r.statusCode} ${r.body}`)
  }
  await inject('POST', '/system/secrets', { authorization: auth, 'content-type': 'application/json' }, JSON.stringify({ name: 'fuzz-secret', value: 's3cret' }))

  const inputs: CaseInputs = {
    modules, images, callbackUrl, knownIssues: opts.knownIssues ?? false,
    functionNames: base.map((b) => b[0]),
    deployNames: ['fz-0', 'fz-1', 'fz-2', 'fz-3', 'fz-4', 'fz-5'],
  }
  const arb = opts.only === 'upload' ? uploadCase(inputs) : opts.only === 'deploy' ? deployCase(inputs) : opts.only === 'invoke' ? invokeCase(inputs) : anyCase(inputs)

  const report: FuzzReport = {
    seconds: opts.seconds, seed: opts.seed, cases: 0, casesByKind: {}, statuses: {}, statusesByKind: {}, codes: {}, failures: [], uncaught,
    rssMiB: { start: rssMiB(), max: rssMiB(), end: 0 }, healthzAtEnd: false, callbacksReceived: 0,
  }
  let uploaded = 0
  let kindNow = ''
  const answer = async (method: string, url: string, headers: Record<string, string>, payload?: string | Buffer): Promise<Answer> => {
    const r = await inject(method, url, headers, payload)
    const code = r.headers['x-kindling-error'] as string | undefined
    count(report.statuses, String(r.statusCode))
    if (kindNow) count((report.statusesByKind[kindNow] ??= {}), String(r.statusCode))
    kindNow = ''
    if (code) count(report.codes, code)
    return { status: r.statusCode, code, body: r.body, fromFunction: r.headers['x-duration-seconds'] !== undefined }
  }

  const runCase = async (c: FuzzCase): Promise<string | null> => {
    report.cases++
    count(report.casesByKind, c.kind)
    const uncaughtBefore = uncaught.length
    kindNow = c.kind
    let why: string | null
    try {
      if (c.kind === 'upload') {
        const a = await answer('POST', '/system/artifacts', { authorization: auth, 'content-type': c.contentType }, Buffer.from(c.bytes))
        why = judge({ ...c, thenDeploy: false }, a)
        if (!why && a.status === 201 && c.thenDeploy) {
          // a mutated module that still validates: deploy it (wasm tier, its own app) and call it
          const image = (JSON.parse(a.body) as { image: string }).image
          const name = `up-${uploaded++ % 3}`
          await answer('DELETE', '/system/functions', { authorization: auth, 'content-type': 'application/json' }, JSON.stringify({ functionName: name }))
          const d = await answer('POST', '/system/functions', { authorization: auth, 'content-type': 'application/json' }, JSON.stringify({
            service: name, image, labels: { 'com.kindling.isolation': 'wasm', 'com.kindling.app': 'fuzz-up', 'com.kindling.timeout': '2s' },
          }))
          why = judge({ ...c, thenDeploy: false }, d)
          if (!why && d.status === 202) why = judge(c, await answer('POST', `/function/${name}`, {}, 'fuzz'))
        }
      } else if (c.kind === 'deploy') {
        const headers: Record<string, string> = { authorization: auth }
        if (c.contentType) headers['content-type'] = c.contentType
        why = judge(c, await answer(c.method, c.url, headers, c.body))
      } else {
        why = judge(c, await answer(c.method, c.url, c.headers, Buffer.from(c.body)))
      }
    } catch (e) {
      why = `threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`
    }
    const rss = rssMiB()
    report.rssMiB.max = Math.max(report.rssMiB.max, rss)
    if (!why && rss > opts.rssLimitMiB) why = `gateway RSS ${rss} MiB is above ${opts.rssLimitMiB} MiB`
    if (!why && uncaught.length > uncaughtBefore) why = `uncaught: ${uncaught[uncaught.length - 1]!.slice(0, 500)}`
    if (report.cases % 500 === 0) log(`  ${report.cases} cases, ${Object.entries(report.statuses).map(([s, n]) => `${s}:${n}`).join(' ')}, rss ${rss} MiB, ${report.failures.length} failures`)
    return why
  }

  const t0 = Date.now()
  const endAt = t0 + opts.seconds * 1000
  let seed = opts.seed
  try {
    while (Date.now() < endAt && report.failures.length < 20) {
      let lastReason = ''
      const prop = fc.asyncProperty(arb, async (c) => {
        const why = await runCase(c)
        lastReason = why ?? ''
        return why === null
      })
      const details = await fc.check(prop, { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: Math.max(1, endAt - Date.now()), maxSkipsPerRun: 0 })
      if (!details.failed) break
      const ce = details.counterexample?.[0]
      // replay the shrunk case once more for its reason (the last run during shrinking may have passed)
      const reason = ce ? ((await runCase(ce)) ?? lastReason) : lastReason
      report.failures.push({ seed, reason, counterexample: printable(ce), numShrinks: details.numShrinks })
      log(`  FAILURE (seed ${seed}, ${details.numShrinks} shrinks): ${reason.slice(0, 200)}`)
      seed = (seed * 1103515245 + 12345) >>> 0
    }
    const h = await inject('GET', '/healthz', {})
    report.healthzAtEnd = h.statusCode === 200 && h.body === 'OK'
  } finally {
    report.rssMiB.end = rssMiB()
    report.callbacksReceived = callbacksReceived
    process.off('uncaughtException', onUncaught)
    process.off('unhandledRejection', onUncaught)
    await k.close()
    sink.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  return report
}

/** A counterexample as JSON can show it: bytes as base64 (and their length). */
function printable(c: FuzzCase | undefined): unknown {
  if (!c) return null
  if (c.kind === 'upload') return { ...c, bytes: { length: c.bytes.length, base64: Buffer.from(c.bytes).toString('base64') } }
  if (c.kind === 'invoke') return { ...c, body: { length: c.body.length, base64: Buffer.from(c.body).toString('base64') } }
  return c
}
