// The load generator in its own process (autocannon in the benchmark's process would share its
// event loop and, on a 2-core machine, halve the numbers). argv[2] is a JSON LoadSpec; prints
// one JSON LoadOutcome on stdout.
import { createRequire } from 'node:module'
import type { LoadOutcome, LoadSpec } from './load.js'

interface AutocannonResult {
  requests: { total: number }
  latency: { p50: number; p99: number; average: number; max: number }
  duration: number
  non2xx: number
  errors: number
  timeouts: number
  '2xx': number
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>

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
const r = await autocannon({ ...opts, duration: spec.durationS })
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
process.stdout.write(JSON.stringify(out) + '\n')
