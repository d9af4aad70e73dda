// The measurement arithmetic behind the report's corrections (issue 15): Faasm's CPU cells read
// against its script, the two CPU columns reconciled, and the headline's like-with-like pairing.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { correctCycles, correctedRatio } from '../../paper/faasm-cycles.js'
import { reconcileCpu } from '../../paper/experiments/cpu.js'
import { headline } from '../../paper/experiments/headline.js'
import { dividedTwice } from '../../paper/experiments/r1-noop.js'
import type { ExperimentData } from '../../paper/experiments/types.js'

test('a cell divided by N twice is multiplied back by its own N; the ratio moves by N_docker / N_faasm', () => {
  const [faaslet] = correctCycles([{ name: 'Faaslet', cycles: 1400, wallS: 0.0052, n: 10_000 }], 2.6e9)
  assert.equal(faaslet!.corrected, 14e6)
  assert.ok(Math.abs(faaslet!.coresCorrected - 1.035) < 0.01, `${faaslet!.coresCorrected}`)
  assert.ok(Math.abs(correctedRatio(386e3, 10, 10_000) - 386) < 1e-9)
})

test('the report quotes the script lines and no longer states the uncorrected ratio as holding', () => {
  const text = dividedTwice().join('\n')
  assert.match(text, /Decimal\(value\) \/ iterations,\n/)
  assert.match(text, /value = Decimal\(value\) \/ iterations/)
  assert.match(text, /"docker", "\.\/bin\/docker_noop_time\.sh", 10\)/)
  assert.match(text, /does not hold as printed/)
  assert.match(text, /386x with these N/)
})

test('the whole machine is never shown below the process tree', () => {
  assert.deepEqual(reconcileCpu(100, 150), { machineUs: 150, clamped: false, rawMachineUs: 150 })
  assert.deepEqual(reconcileCpu(100, 75), { machineUs: 100, clamped: true, rawMachineUs: 75 })
})

test('the headline pairs the Proto-Faaslet with the restore on the critical path, never with a fresh start', () => {
  const r1: ExperimentData = {
    id: 'R1', status: 'ok', method: [], notes: [], skipped: [],
    rows: [
      { key: 'k-inline-new', label: 'new', system: 'kindling', unit: 'us', n: 100, p50: 50, mean: 52 },
      { key: 'k-inline-restore', label: 'restore', system: 'kindling', unit: 'us', n: 100, p50: 9, mean: 10 },
      { key: 'k-inline-warm', label: 'warm', system: 'kindling', unit: 'us', n: 100, p50: 5, mean: 6 },
    ],
  }
  const text = headline(r1).join('\n')
  assert.match(text, /Faaslet \(5\.2 ms †\) \/ kindling's new sandbox: 100x in-process \(mean against mean\)/)
  assert.match(text, /Proto-Faaslet \(0\.5 ms †\) \/ kindling's restore \+ call: 50\.0x \(mean against mean\)/)
  assert.match(text, /network namespace/)
  // without the restore row there is no Proto-Faaslet ratio at all (not one against the fresh start)
  const noRestore = headline({ ...r1, rows: r1.rows.filter((r) => r.key !== 'k-inline-restore') }).join('\n')
  assert.doesNotMatch(noRestore, /Proto-Faaslet \(0\.5 ms †\) \/ kindling/)
})

test('repetitions of the suite put each row\'s medians beside it, and the table shows their range', async () => {
  const { mergeRepetitions } = await import('../../paper/run.js')
  const { measured } = await import('../../paper/report/markdown.js')
  const mk = (p50: number, unit: 'us' | 'ms' = 'us'): ExperimentData => ({ id: 'R1', status: 'ok', method: [], notes: [], skipped: [], rows: [{ key: 'k', label: 'k', system: 'kindling', unit, n: 100, p50 }] })
  const first = mk(50)
  mergeRepetitions(first, [mk(0.06, 'ms'), mk(45)])
  assert.deepEqual(first.rows[0]!.runs, [50, 60, 45])
  assert.match(measured(first.rows[0]), /; runs 45\.0 µs–60\.0 µs$/)
  assert.match(first.method.join(' '), /3 repetitions of the whole suite/)
})
