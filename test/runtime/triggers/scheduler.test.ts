// The cron scheduler against a test clock (wall time that can be stepped, timers on a monotonic
// time that cannot), then for real: kindling on loopback with a six-field schedule firing every
// second, each tick an async call through the queue, with its trigger in the call, logs and metrics.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CronSchedule } from '../../../runtime/triggers/cron.js'
import { type Clock, CronScheduler } from '../../../runtime/triggers/scheduler.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'

/** Timers run on `mono`; `now()` is mono + offset, and stepping the wall clock changes the offset only. */
class TestClock implements Clock {
  mono = 0
  offset: number
  timers: { at: number; fn: () => void; id: number }[] = []
  private ids = 0
  constructor(wallStart: number) {
    this.offset = wallStart
  }
  now = () => this.mono + this.offset
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.ids
    this.timers.push({ at: this.mono + ms, fn, id })
    return id
  }
  clearTimeout = (h: unknown) => void (this.timers = this.timers.filter((t) => t.id !== h))
  /** runs every timer due within `ms` of monotonic time, in order */
  advance(ms: number): void {
    const end = this.mono + ms
    for (let guard = 0; guard < 100_000; guard++) {
      this.timers.sort((a, b) => a.at - b.at)
      const t = this.timers[0]
      if (!t || t.at > end) break
      this.timers.shift()
      this.mono = Math.max(this.mono, t.at)
      t.fn()
    }
    this.mono = end
  }
}

const at = (iso: string) => Date.parse(iso)
const isoOf = (ms: number) => new Date(ms).toISOString()

describe('cron scheduler (test clock)', () => {
  it('sets one timer for the next tick and fires each tick once, on time, without drift', () => {
    const clock = new TestClock(at('2026-01-01T10:02:30Z'))
    const s = new CronScheduler(clock)
    const fired: string[] = []
    s.set('f', CronSchedule.parse('*/5 * * * *'), (t) => {
      assert.equal(clock.now(), t, 'fired at its tick')
      fired.push(isoOf(t))
    })
    assert.equal(clock.timers.length, 1, 'one timer, not a poll')
    assert.equal(s.nextTick('f'), at('2026-01-01T10:05:00Z'))
    clock.advance(3 * 3_600_000)
    assert.equal(fired.length, 36)
    assert.equal(fired[0], '2026-01-01T10:05:00.000Z')
    assert.equal(fired.at(-1), '2026-01-01T13:00:00.000Z')
    assert.equal(new Set(fired).size, fired.length, 'no tick twice')
    assert.ok(clock.timers.length <= 1)
    s.close()
  })

  it('does not fire a tick again when the clock steps back, nor replay ticks after a forward step', () => {
    const clock = new TestClock(at('2026-03-29T00:59:00Z'))
    const s = new CronScheduler(clock)
    const fired: string[] = []
    s.set('f', CronSchedule.parse('0 * * * *'), (t) => fired.push(isoOf(t)))
    clock.advance(60_000)
    assert.deepEqual(fired, ['2026-03-29T01:00:00.000Z'])
    // the wall clock goes back an hour (a bad NTP step): 01:00 comes round again but must not fire again
    clock.offset -= 3_600_000
    clock.advance(2 * 3_600_000)
    assert.deepEqual(fired, ['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z'])
    // forward by five hours: the tick that was due fires once (late); the missed ones are not replayed
    clock.offset += 5 * 3_600_000
    clock.advance(60_000)
    assert.equal(fired.length, 3)
    assert.equal(fired[2], '2026-03-29T03:00:00.000Z')
    clock.advance(3_600_000)
    assert.equal(new Set(fired).size, fired.length, 'no tick twice')
    assert.ok(fired.every((f, i) => i === 0 || f > fired[i - 1]!), `in order: ${fired.join(' ')}`)
    s.close()
  })

  it('keeps the last tick across an update (no double fire) and stops on delete', () => {
    const clock = new TestClock(at('2026-01-01T00:00:00.500Z'))
    const s = new CronScheduler(clock)
    const fired: number[] = []
    const sched = CronSchedule.parse('* * * * * *')
    s.set('f', sched, (t) => fired.push(t))
    clock.advance(500)
    assert.equal(fired.length, 1)
    // re-set in the same millisecond as the tick (an update): the tick is not fired again
    clock.offset -= 1
    s.set('f', sched, (t) => fired.push(t))
    clock.advance(1)
    assert.equal(fired.length, 1)
    clock.advance(1000)
    assert.equal(fired.length, 2)
    s.delete('f')
    clock.advance(10_000)
    assert.equal(fired.length, 2)
    assert.equal(clock.timers.length, 0)
  })

  it('waits at most a minute per timer for a distant tick', () => {
    const clock = new TestClock(at('2026-03-01T00:00:00Z'))
    const s = new CronScheduler(clock)
    const fired: string[] = []
    s.set('f', CronSchedule.parse('0 0 29 2 *'), (t) => fired.push(isoOf(t)))
    assert.equal(clock.timers[0]!.at, 60_000)
    assert.equal(s.nextTick('f'), at('2028-02-29T00:00:00Z'))
    s.close()
  })
})

describe('cron trigger end to end (kindling on loopback, real timers)', () => {
  let k: TestKindling
  /** what the function was called with: the real dispatcher, watched */
  const seen: { key: string; headers: Record<string, string>; bodyBytes: number }[] = []
  before(async () => {
    k = await startKindling()
    await k.listen()
    const invokeKey = k.dispatcher.invokeKey.bind(k.dispatcher)
    k.dispatcher.invokeKey = (key, req, signal) => {
      seen.push({ key, headers: { ...req.headers }, bodyBytes: req.body.length })
      return invokeKey(key, req, signal)
    }
  })
  after(async () => {
    await k.cleanup()
  })

  const cronCalls = () => seen.filter((c) => c.key === 'cat.openfaas-fn' && c.headers['x-kindling-trigger'] === 'cron')
  const done = () => k.asyncQueue.store.list('done', 0, 1000).filter((r) => r.fn_key === 'cat.openfaas-fn')

  it('refuses a bad schedule at deploy with 400 and a code', async () => {
    const image = await k.upload(exampleModule('cat'))
    for (const annotations of [{ topic: 'cron-function', schedule: '61 * * * *' }, { topic: 'cron-function' }, { topic: 'kindling.async.cat' }]) {
      const r = await fetch(`${k.url}/system/functions`, { method: 'POST', headers: { ...k.auth, 'content-type': 'application/json' }, body: JSON.stringify({ service: 'bad', image, annotations }) })
      assert.equal(r.status, 400)
      assert.match(await r.text(), /KINDLING_ERR_INVALID_(SCHEDULE|TOPIC)/)
    }
  })

  it('runs a function every second as async calls with its trigger, in logs and metrics; an update without the topic stops it', async () => {
    await k.deploy('cat', exampleModule('cat'), { annotations: { topic: 'cron-function', schedule: '* * * * * *' } })
    const until = Date.now() + 20_000
    while ((done().length < 2 || cronCalls().length < 2) && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
    const calls = cronCalls()
    assert.ok(done().length >= 2 && calls.length >= 2, `two cron calls done, got ${done().length} done, ${calls.length} runs`)
    const ticks = calls.map((c) => Date.parse(c.headers['x-kindling-tick']!))
    assert.ok(ticks.every((t) => t % 1000 === 0), 'ticks on whole seconds')
    assert.equal(new Set(ticks).size, ticks.length, 'one call per tick')
    assert.ok(calls.every((c) => c.headers['x-kindling-schedule'] === '* * * * * *' && /^[0-9a-f-]{36}$/.test(c.headers['x-call-id']!) && c.bodyBytes === 0))
    assert.equal(done()[0]!.last_status, 200)
    const metrics = await (await fetch(`${k.url}/metrics`)).text()
    assert.match(metrics, /kindling_trigger_deliveries_total\{function_name="cat.openfaas-fn",trigger="cron",result="accepted"\} [1-9]/)
    const logs = await (await fetch(`${k.url}/system/logs?name=cat&tail=100`, { headers: k.auth })).text()
    assert.match(logs, /cron trigger \(\* \* \* \* \* \* at [^)]+\): async call [0-9a-f-]{36} queued/)
    // an update without the annotations drops the schedule
    const image = await k.upload(exampleModule('cat'))
    const r = await fetch(`${k.url}/system/functions`, { method: 'PUT', headers: { ...k.auth, 'content-type': 'application/json' }, body: JSON.stringify({ service: 'cat', image }) })
    assert.equal(r.status, 202)
    assert.deepEqual(k.triggers!.scheduler.keys(), [])
  })

  it('says in the function\'s logs that a topic has no NATS server to subscribe on (single node)', async () => {
    await k.deploy('orders', exampleModule('cat'), { annotations: { topic: 'orders.created' } })
    const logs = await (await fetch(`${k.url}/system/logs?name=orders&tail=100`, { headers: k.auth })).text()
    assert.match(logs, /topic orders\.created: no NATS server is configured \(KINDLING_NATS_URL\)/)
    assert.equal(k.triggers!.subjects, undefined)
  })
})

describe('cron trigger across a restart (single node)', () => {
  it('does not replay the ticks missed while kindling was stopped', async () => {
    const dataDir = (await import('../../helpers/kindling.js')).tempDataDir()
    const ticksOf = (k: TestKindling, out: number[]) => {
      const invokeKey = k.dispatcher.invokeKey.bind(k.dispatcher)
      k.dispatcher.invokeKey = (key, req, signal) => {
        if (req.headers['x-kindling-tick']) out.push(Date.parse(req.headers['x-kindling-tick']))
        return invokeKey(key, req, signal)
      }
    }
    const first: number[] = []
    let k = await startKindling({}, { dataDir, keepDataDir: true })
    ticksOf(k, first)
    await k.deploy('cat', exampleModule('cat'), { annotations: { topic: 'cron-function', schedule: '* * * * * *' } })
    const waitTicks = async (arr: number[], n: number) => {
      const until = Date.now() + 20_000
      while (arr.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      assert.ok(arr.length >= n, `${n} ticks run, got ${arr.length}`)
    }
    await waitTicks(first, 1)
    await k.close()
    const stoppedAt = Date.now()
    await new Promise((r) => setTimeout(r, 2500))
    const second: number[] = []
    k = await startKindling({}, { dataDir })
    const startedAt = Date.now()
    ticksOf(k, second)
    try {
      await waitTicks(second, 1)
      // ticks that fell while it was stopped never run (a tick accepted before the stop may still run
      // after it: accepted calls are durable; those are before stoppedAt)
      const missed = second.filter((t) => t > stoppedAt && t < startedAt)
      assert.deepEqual(missed, [], `ticks while stopped: ${missed.map(isoOf).join(' ')}`)
      assert.ok(second.some((t) => t >= startedAt), 'ticks after the restart run')
    } finally {
      await k.cleanup()
    }
  })
})
