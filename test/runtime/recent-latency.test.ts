// The dashboard's two-minute window of calls: slots, percentiles from the log buckets, old slots
// cleared as time moves on.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RecentLatency, SLOT_MS, SLOTS } from '../../runtime/recent-latency.js'

describe('RecentLatency', () => {
  it('puts calls in 2-second slots with their 5xx count and p50/p99 within a bucket (~20%)', () => {
    let now = 1_000_000 * SLOT_MS
    const r = new RecentLatency(() => now)
    for (let i = 1; i <= 100; i++) r.record(i, i % 10 !== 0)
    now += SLOT_MS
    r.record(5, true)
    const s = r.series()
    assert.equal(s.length, SLOTS)
    assert.equal(s.at(-1)!.t, now)
    const [prev, last] = [s.at(-2)!, s.at(-1)!]
    assert.equal(prev.calls, 100)
    assert.equal(prev.errors, 10)
    assert.ok(Math.abs(prev.p50Ms! - 50) / 50 < 0.2, `p50 ${prev.p50Ms}`)
    assert.ok(Math.abs(prev.p99Ms! - 99) / 99 < 0.2, `p99 ${prev.p99Ms}`)
    assert.equal(last.calls, 1)
    assert.ok(Math.abs(last.p50Ms! - 5) / 5 < 0.2)
    assert.equal(s[0]!.calls, 0)
    assert.equal(s[0]!.p50Ms, null)
  })

  it('forgets slots older than the window, and copes with tiny and huge durations', () => {
    let now = 5 * SLOT_MS
    const r = new RecentLatency(() => now)
    r.record(0, true)
    r.record(1e9, true)
    assert.equal(r.series().at(-1)!.calls, 2)
    now += (SLOTS - 1) * SLOT_MS
    assert.equal(r.series()[0]!.calls, 2, 'still inside the window')
    now += SLOT_MS
    assert.ok(r.series().every((p) => p.calls === 0), 'one slot later it has fallen out')
    now += 1000 * SLOTS * SLOT_MS
    r.record(3, false)
    const s = r.series()
    assert.equal(s.reduce((a, p) => a + p.calls, 0), 1)
    assert.equal(s.at(-1)!.errors, 1)
  })
})
