import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Autoscaler, type AutoscaleInput } from '../../../runtime/pool/autoscaler.js'
import type { ScaleSettings } from '../../../runtime/spec.js'

const scale = (s: Partial<ScaleSettings>): ScaleSettings => ({
  min: 1, max: 5, zero: false, zeroDurationMs: 900_000, target: undefined, targetProportion: 0.9, type: 'rps', factor: 20, downWindowMs: 0, ...s,
})

/** Drives an autoscaler one simulated second at a time with a steady load. */
class Sim {
  now = 0
  desired: number
  ok = 0
  calls = 0
  inflight = 0
  asyncPending = 0
  readonly moves: { t: number; to: number }[] = []
  readonly a = new Autoscaler({ windowMs: 10_000, fireAfterMs: 5_000 })

  constructor(readonly s: ScaleSettings, desired = s.min) {
    this.desired = desired
  }

  run(seconds: number, rps: number, okShare = 1): void {
    for (let i = 0; i < seconds; i++) {
      this.now += 1000
      this.calls += rps
      this.ok += rps * okShare
      const input: AutoscaleInput = { now: this.now, scale: this.s, desired: this.desired, okCalls: this.ok, calls: this.calls, inflight: this.inflight, asyncPending: this.asyncPending }
      const d = this.a.evaluate('f.ns', input)
      if (d) {
        this.desired = d.replicas
        this.moves.push({ t: this.now / 1000, to: d.replicas })
      }
    }
  }
}

describe('autoscaler: the OpenFaaS CE rule (no target)', () => {
  it('steps up by ceil(max * factor / 100) once 2xx calls stay above 5 rps for 5 s, and back to min when they stop', () => {
    const sim = new Sim(scale({ min: 1, max: 2 }))
    sim.run(5, 10)
    assert.equal(sim.moves.length, 0, 'pending, not firing yet')
    sim.run(10, 10)
    assert.equal(sim.desired, 2, 'the certifier wants 2 within a minute at 10 rps')
    assert.ok(sim.moves[0]!.t <= 8, `fired at ${sim.moves[0]!.t} s`)
    sim.run(20, 0)
    assert.equal(sim.desired, 1)
    assert.ok(sim.moves[1]!.t - 15 <= 10, 'back to min within the window after the load stops')
  })

  it('keeps stepping while it fires, up to max, and ignores failed calls', () => {
    const sim = new Sim(scale({ min: 1, max: 10, factor: 20 }))
    sim.run(60, 20, 0)
    assert.equal(sim.desired, 1, '5xx calls do not count')
    sim.run(60, 20)
    assert.equal(sim.desired, 10)
    assert.deepEqual(sim.moves.map((m) => m.to), [3, 5, 7, 9, 10], 'steps of ceil(10 * 20 / 100) = 2, every window')
  })

  it('does nothing when min = max, factor = 0, or the function is at zero', () => {
    for (const [s, d] of [[scale({ min: 2, max: 2 }), 2], [scale({ factor: 0 }), 1], [scale({ min: 1 }), 0]] as const) {
      const sim = new Sim(s, d)
      sim.run(30, 50)
      sim.run(30, 0)
      assert.deepEqual(sim.moves, [])
    }
  })

  it('leaves a replica count set through the API alone until the alert fires or resolves', () => {
    const sim = new Sim(scale({ min: 1, max: 5 }))
    sim.run(3, 1)
    sim.desired = 4 // POST /system/scale-function
    sim.run(30, 1)
    assert.equal(sim.desired, 4)
    sim.run(10, 10)
    assert.equal(sim.desired, 5, 'fired: a step up from what was set')
    sim.run(15, 0)
    assert.equal(sim.desired, 1, 'resolved: back to min')
  })
})

describe('autoscaler: target-based (OpenFaaS Pro formula)', () => {
  it('rps: desired = ceil(load / (target * proportion)), clamped to [min, max]', () => {
    const sim = new Sim(scale({ min: 1, max: 8, target: 10, targetProportion: 1 }))
    sim.run(12, 35)
    assert.equal(sim.desired, 4)
    sim.run(12, 200)
    assert.equal(sim.desired, 8, 'clamped to max')
    sim.run(12, 0)
    assert.equal(sim.desired, 1, 'clamped to min')
  })

  it('capacity: mean calls in flight against the target per replica', () => {
    const sim = new Sim(scale({ min: 1, max: 10, target: 2, targetProportion: 1, type: 'capacity' }))
    sim.inflight = 7
    sim.run(12, 0)
    assert.equal(sim.desired, 4)
  })

  it('queue: asynchronous calls waiting against the target', () => {
    const sim = new Sim(scale({ min: 1, max: 10, target: 5, targetProportion: 0.5, type: 'queue' }))
    sim.asyncPending = 12
    sim.run(1, 0)
    assert.equal(sim.desired, 5)
  })

  it('scales down only to the highest recommendation of the down window', () => {
    const sim = new Sim(scale({ min: 1, max: 10, target: 10, targetProportion: 1, downWindowMs: 20_000 }))
    sim.run(12, 50)
    assert.equal(sim.desired, 5)
    sim.run(15, 0)
    assert.equal(sim.desired, 5, 'still inside the down window')
    sim.run(15, 0)
    assert.equal(sim.desired, 1)
  })

  it('holds a replica count set through the API until its recommendation changes; cpu is not autoscaled', () => {
    const sim = new Sim(scale({ min: 1, max: 10, target: 10, targetProportion: 1 }))
    sim.run(12, 30)
    assert.equal(sim.desired, 3)
    sim.desired = 7
    sim.run(12, 30)
    assert.equal(sim.desired, 7)
    sim.run(12, 50)
    assert.equal(sim.desired, 5)
    const cpu = new Sim(scale({ target: 10, type: 'cpu' }))
    cpu.run(20, 500)
    assert.deepEqual(cpu.moves, [])
  })
})
