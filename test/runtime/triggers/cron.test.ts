// The cron parser: fixed examples against hand-computed ticks, the errors a bad schedule gets, and
// properties over random expressions and instants (next() is strictly after, matches, and skips no
// tick in between).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { CronSchedule } from '../../../runtime/triggers/cron.js'
import { KindlingError } from '../../../runtime/errors.js'
import { triggersOf } from '../../../runtime/triggers/spec.js'

const at = (iso: string) => Date.parse(iso)
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString())

function refused(text: string, code = 'KINDLING_ERR_INVALID_SCHEDULE'): void {
  assert.throws(() => CronSchedule.parse(text), (e: unknown) => e instanceof KindlingError && e.code === code && e.status === 400, text)
}

describe('cron parser', () => {
  it('computes the next tick of the usual forms', () => {
    const cases: [string, string, string][] = [
      ['*/5 * * * *', '2026-01-01T10:02:30Z', '2026-01-01T10:05:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:05:00Z', '2026-01-01T10:10:00.000Z'],
      ['0 9 * * MON-FRI', '2026-12-04T09:00:00Z', '2026-12-07T09:00:00.000Z'], // a Friday: next is Monday
      ['30 2 1 JAN,jul *', '2026-02-01T00:00:00Z', '2026-07-01T02:30:00.000Z'],
      ['0 0 29 2 *', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
      ['0 0 13 * 5', '2026-02-01T00:00:00Z', '2026-02-06T00:00:00.000Z'], // both day fields: 13th OR a Friday
      ['0 0 * * 7', '2026-12-04T12:00:00Z', '2026-12-06T00:00:00.000Z'], // 7 is Sunday
      ['10/20 * * * *', '2026-01-01T00:00:00Z', '2026-01-01T00:10:00.000Z'],
      ['*/2 * * * * *', '2026-01-01T00:00:00.500Z', '2026-01-01T00:00:02.000Z'], // six fields: seconds
      ['@hourly', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00.000Z'],
      ['0 0 1-7 * ?', '2026-01-31T00:00:00Z', '2026-02-01T00:00:00.000Z'],
      ['59 23 31 12 *', '2026-12-31T23:59:00Z', '2027-12-31T23:59:00.000Z'],
    ]
    for (const [expr, from, want] of cases) assert.equal(iso(CronSchedule.parse(expr).next(at(from))), want, `${expr} after ${from}`)
  })

  it('refuses bad schedules with KINDLING_ERR_INVALID_SCHEDULE', () => {
    for (const bad of ['', '* * * *', '* * * * * * *', '60 * * * *', '* 24 * * *', '* * 0 * *', '* * * 13 *', '* * * * 8', '5-1 * * * *', '*/0 * * * *', 'a * * * *', '* * * FOO *', '0 0 30 2 *', '@every 5m', '1,,2 * * * *', '1-2-3 * * * *']) refused(bad)
  })

  it('reads the OpenFaaS annotations: topic cron-function needs a schedule; subjects are checked', () => {
    assert.equal(triggersOf({ topic: 'cron-function', schedule: '*/5 * * * *' }).cron?.text, '*/5 * * * *')
    assert.deepEqual(triggersOf({ topic: 'orders.created, orders.*' }).subjects, ['orders.created', 'orders.*'])
    assert.equal(triggersOf({ schedule: '*/5 * * * *' }).cron, undefined) // a schedule without the cron topic is ignored, as the connector does
    assert.throws(() => triggersOf({ topic: 'cron-function' }), { code: 'KINDLING_ERR_INVALID_SCHEDULE' })
    assert.throws(() => triggersOf({ topic: 'cron-function', schedule: '* * *' }), { code: 'KINDLING_ERR_INVALID_SCHEDULE' })
    for (const t of ['kindling.async.x', '>', '*.async', '$JS.API.x', '_INBOX.x', 'a..b', 'a.>.b', 'a b']) assert.throws(() => triggersOf({ topic: t }), { code: 'KINDLING_ERR_INVALID_TOPIC' }, t)
  })
})

/** a random cron field: *, a value, a range, a step, or a list of those */
function field(min: number, max: number): fc.Arbitrary<string> {
  const v = fc.integer({ min, max })
  const item = fc.oneof(
    fc.constant('*'),
    v.map(String),
    fc.tuple(v, v).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc.tuple(fc.integer({ min: 1, max: max - min + 1 }), fc.boolean(), v).map(([s, star, a]) => (star ? `*/${s}` : `${a}/${s}`)),
  )
  return fc.array(item, { minLength: 1, maxLength: 3 }).map((xs) => xs.join(','))
}

const expr5 = fc.tuple(field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 7)).map((f) => f.join(' '))
const dense6 = fc.tuple(field(0, 59), field(0, 59), field(0, 23)).map((f) => `${f.join(' ')} * * *`)
const instant = fc.integer({ min: at('2000-01-01T00:00:00Z'), max: at('2060-01-01T00:00:00Z') })

function parseOrSkip(text: string): CronSchedule | undefined {
  try {
    return CronSchedule.parse(text)
  } catch (e) {
    if ((e as KindlingError).code === 'KINDLING_ERR_INVALID_SCHEDULE' && /never fires/.test((e as Error).message)) return undefined
    throw e
  }
}

describe('cron parser properties', () => {
  it('next() is strictly increasing and each tick matches the expression', () => {
    fc.assert(fc.property(expr5, instant, (text, t) => {
      const s = parseOrSkip(text)
      if (!s) return
      let prev = t
      for (let i = 0; i < 5; i++) {
        const n = s.next(prev)
        if (n === undefined) return
        assert.ok(n > prev, `${text}: ${iso(n)} after ${iso(prev)}`)
        assert.ok(s.matches(n), `${text} matches ${iso(n)}`)
        prev = n
      }
    }), { numRuns: 300 })
  })

  it('next() skips no tick: nothing between t and next(t) matches (dense schedules, checked second by second)', () => {
    fc.assert(fc.property(dense6, instant, (text, t) => {
      const s = CronSchedule.parse(text)
      const n = s.next(t)!
      assert.ok(n > t && s.matches(n))
      // a dense schedule ticks at least daily: at most 86 400 seconds to check
      for (let x = Math.floor(t / 1000) * 1000 + 1000; x < n; x += 1000) assert.ok(!s.matches(x), `${text}: ${iso(x)} is a tick before ${iso(n)}`)
    }), { numRuns: 60 })
  })

  it('is monotonic: a later start never gives an earlier tick', () => {
    fc.assert(fc.property(expr5, instant, fc.integer({ min: 0, max: 40 * 86_400_000 }), (text, t, d) => {
      const s = parseOrSkip(text)
      if (!s) return
      const a = s.next(t)
      const b = s.next(t + d)
      if (a !== undefined && b !== undefined) assert.ok(b >= a)
    }), { numRuns: 200 })
  })
})
