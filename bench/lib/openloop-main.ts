// Open-loop load generator, in its own process: requests are sent at a fixed rate whatever the
// responses do (as Faasm's churn experiment does), each on an idle keep-alive connection or a new
// one. argv[2] is a JSON OpenLoopSpec; prints one JSON OpenLoopOutcome per rate on stdout.
import { performance } from 'node:perf_hooks'
import { buildRequest, Http1Connection } from './http1.js'
import type { OpenLoopOutcome, OpenLoopSpec } from './openloop.js'
import { scheduleLatency, type TimedRequest } from './schedule-latency.js'
import { percentile } from './stats.js'

const spec = JSON.parse(process.argv[2] ?? '{}') as OpenLoopSpec
const url = new URL(spec.url)
const raw = buildRequest(url, 'POST', url.pathname, Buffer.from(spec.body ?? ''), { 'content-type': 'text/plain' })
const idle: Http1Connection[] = []
let open = 0

async function connection(): Promise<Http1Connection | undefined> {
  const c = idle.pop()
  if (c) return c
  if (open >= spec.maxConnections) return undefined
  open++
  try {
    return await Http1Connection.open(url)
  } catch (e) {
    open--
    throw e
  }
}

async function runRate(rate: number, durationS = spec.durationS): Promise<OpenLoopOutcome> {
  const total = Math.max(1, Math.round(rate * durationS))
  const timed: TimedRequest[] = []
  const latencies: number[] = []
  const lags: number[] = []
  let errors = 0
  let dropped = 0
  let non200 = 0
  let inFlight = 0
  let lastResponse = 0
  let firstError: string | undefined
  const start = performance.now() + 5
  const interval = 1000 / rate
  const send = async (scheduled: number) => {
    const t: TimedRequest = { scheduledMs: scheduled }
    timed.push(t)
    const c = await connection().catch((e: Error) => {
      firstError ??= e.message
      return undefined
    })
    if (!c) {
      dropped++
      return
    }
    inFlight++
    const sentAt = performance.now()
    t.sentMs = sentAt
    lags.push((sentAt - scheduled) * 1000)
    try {
      const r = await c.request(raw)
      t.doneMs = performance.now()
      latencies.push(r.us)
      if (r.status !== 200) non200++
      idle.push(c)
    } catch (e) {
      errors++
      open--
      firstError ??= (e as Error).message
    }
    inFlight--
    lastResponse = performance.now()
  }
  let next = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      while (next < total && start + next * interval <= now) {
        void send(start + next * interval)
        next++
      }
      if (next >= total) return resolve()
      const wait = start + next * interval - performance.now()
      // timers are ~1 ms coarse: below that, yield to I/O and check again
      if (wait > 1.5) setTimeout(tick, wait - 1)
      else setImmediate(tick)
    }
    tick()
  })
  const sendEnd = performance.now()
  const drainUntil = sendEnd + spec.drainS * 1000
  while (inFlight > 0 && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5))
  const elapsedS = (Math.max(lastResponse, sendEnd) - start) / 1000
  return {
    rate,
    offered: total,
    completed: latencies.length,
    achievedRps: (latencies.length - non200) / elapsedS,
    elapsedS,
    latencyUs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    fromScheduleUs: (() => {
      const l = scheduleLatency(timed).fromScheduleUs
      return { p50: percentile(l, 50), p90: percentile(l, 90), p99: percentile(l, 99), max: percentile(l, 100) }
    })(),
    sendLagUs: { p50: percentile(lags, 50), p99: percentile(lags, 99) },
    errors,
    non200,
    dropped,
    unfinished: inFlight,
    connections: open,
    firstError,
  }
}

for (const rate of spec.rates) {
  // an untimed warm-up at this rate first: sandboxes, connections and JIT settle before the count
  if (spec.warmupS) await runRate(rate, spec.warmupS)
  const o = await runRate(rate)
  process.stdout.write(JSON.stringify(o) + '\n')
  await new Promise((r) => setTimeout(r, spec.pauseMs))
}
for (const c of idle) c.close()
process.exit(0)
