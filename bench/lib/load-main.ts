// The load generator in its own process (autocannon in the benchmark's process would share its
// event loop and, on a 2-core machine, halve the numbers). argv[2] is a JSON LoadSpec; prints
// one JSON LoadOutcome on stdout.
import { createRequire } from 'node:module'
import type { LoadOutcome, LoadSpec } from './load.js'
import { percentile } from './stats.js'

interface AutocannonResult {
  requests: { total: number }
  latency: { p50: number; p99: number; average: number; max: number }
  duration: number
  non2xx: number
  errors: number
  timeouts: number
  '2xx': number
}
type Autocannon = ((opts: Record<string, unknown>) => Promise<AutocannonResult>) &
  ((opts: Record<string, unknown>, cb: (err: Error | null, r: AutocannonResult) => void) => NodeJS.EventEmitter)

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
const opts = {
  url: spec.url,
  method: spec.method,
  body: spec.body,
  headers: spec.headers,
  connections: spec.connections,
  pipelining: 1,
  timeout: 30,
}
if (spec.warmupS > 0) await autocannon({ ...opts, duration: spec.warmupS })
// response times as autocannon measures them (hrtime, float ms), for percentiles below 1 ms
const times: number[] = []
const r = await new Promise<AutocannonResult>((resolve, reject) => {
  const run = autocannon({ ...opts, duration: spec.durationS }, (err, res) => (err ? reject(err) : resolve(res)))
  if (spec.exactLatency) run.on('response', (_client: unknown, status: number | string, _bytes: number, ms: number) => {
    if (Number(status) >= 200 && Number(status) < 300) times.push(ms)
  })
})
const out: LoadOutcome = {
  ok: r['2xx'],
  non2xx: r.non2xx,
  errors: r.errors,
  timeouts: r.timeouts,
  seconds: r.duration,
  rps: r['2xx'] / r.duration,
  latencyMs: { p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.average, max: r.latency.max },
  tool: 'autocannon',
}
if (spec.exactLatency) out.latencyUs = { p50: percentile(times, 50) * 1000, p99: percentile(times, 99) * 1000, n: times.length }
process.stdout.write(JSON.stringify(out) + '\n')
