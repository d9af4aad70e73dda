// Latency of open-loop requests measured from when each was due, not from when it went out
// (no coordinated omission): a generator that falls behind its schedule, or a request that waits
// for a free connection, must not hide that wait. Pure; the generator (openloop-main.ts) uses it
// and test/paper tests it.

export interface TimedRequest {
  /** when the schedule said to send it, ms (performance.now()) */
  scheduledMs: number
  /** when it actually went out, ms; undefined if it never did */
  sentMs?: number
  /** when its response was complete, ms; undefined if none came */
  doneMs?: number
}

export interface ScheduleLatency {
  /** response end - scheduled send, µs, for every completed request */
  fromScheduleUs: number[]
  /** response end - actual send, µs (what a closed-loop view would report) */
  fromSendUs: number[]
  /** requests never sent or never answered: counted, never silently left out */
  missing: number
}

export function scheduleLatency(reqs: readonly TimedRequest[]): ScheduleLatency {
  const out: ScheduleLatency = { fromScheduleUs: [], fromSendUs: [], missing: 0 }
  for (const r of reqs) {
    if (r.doneMs === undefined || r.sentMs === undefined) {
      out.missing++
      continue
    }
    out.fromScheduleUs.push((r.doneMs - r.scheduledMs) * 1000)
    out.fromSendUs.push((r.doneMs - r.sentMs) * 1000)
  }
  return out
}
