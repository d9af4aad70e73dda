// R4's measurement (issue 15, correction 5): latency from the scheduled send (no coordinated
// omission), the knee on that latency, and a knee at the highest rate shown as a lower bound.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { scheduleLatency } from '../../bench/lib/schedule-latency.js'
import { knee } from '../../bench/scopes/churn.js'
import { kneeText } from '../../paper/experiments/r4-churn.js'

test('a request that went out late counts its wait; one never answered is counted, not dropped', () => {
  const l = scheduleLatency([
    { scheduledMs: 0, sentMs: 0, doneMs: 1 },
    // the generator (or a busy connection) held this one back 50 ms: the server took 1 ms
    { scheduledMs: 10, sentMs: 60, doneMs: 61 },
    { scheduledMs: 20 },
    { scheduledMs: 30, sentMs: 30 },
  ])
  assert.deepEqual(l.fromSendUs, [1000, 1000])
  assert.deepEqual(l.fromScheduleUs, [1000, 51000])
  assert.equal(l.missing, 2)
})

test('the knee uses the latency from the schedule when the generator reports it', () => {
  const o = (rate: number, send: number, sched: number) => ({ rate, achievedRps: rate, latencyUs: { p50: send, p90: send, p99: send, max: send }, fromScheduleUs: { p50: sched, p90: sched, p99: sched, max: sched } })
  // from the send the 1000/s point looks fine; from the schedule it is 10x the low-load latency
  assert.equal(knee([o(100, 500, 500), o(1000, 600, 5000)]), 100)
  const { fromScheduleUs: _, ...noSchedule } = o(1000, 600, 5000)
  assert.equal(knee([o(100, 500, 500), noSchedule]), 1000)
})

test('a knee at the highest rate offered is a lower bound', () => {
  assert.equal(kneeText(8000, 8000), '>= 8,000/s (lower bound: the highest rate offered)')
  assert.equal(kneeText(4000, 8000), '4,000/s')
})

test('R4 says when a run predates the corrected method', async () => {
  const { r4 } = await import('../../paper/experiments/r4-churn.js')
  const rows = [
    { key: 'wasm x|100|latency', label: 'wasm x', system: 'kindling' as const, unit: 'ms' as const, n: 1, p50: 1, p99: 2 },
    { key: 'wasm x|knee', label: 'wasm x', system: 'kindling' as const, unit: 'req/s' as const, n: 1, p50: 100 },
  ]
  const ctx = { env: {} as never, machine: 'm', quick: false, rerun: () => '' }
  const old = r4.render({ id: 'R4', status: 'ok', rows, notes: [], skipped: [], method: ['latency from the actual send; achieved = 200 responses / (last response - first scheduled send)'] }, ctx)
  assert.match(old.markdown, /predates the corrected method/)
  assert.match(old.markdown, />= 100\/s \(lower bound/)
  const now = r4.render({ id: 'R4', status: 'ok', rows, notes: [], skipped: [], method: ['latency from the scheduled send time to the last byte'] }, ctx)
  assert.doesNotMatch(now.markdown, /predates/)
})
