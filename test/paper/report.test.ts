// The report's pure pieces: number formatting, tables, provenance marks, the headline, and the
// pipeline's response parsing. Nothing here starts a process.
import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { headline } from '../../paper/experiments/headline.js'
import { computeUs, testImage } from '../../paper/experiments/r9-pipeline.js'
import type { ExperimentData, Measured } from '../../paper/experiments/types.js'
import { cite, PUBLISHED, published, RECALLED_MARK } from '../../paper/published.js'
import { mdTable, measured, num, ratioOf, time } from '../../paper/report/markdown.js'
import { anchor } from '../../paper/report/report.js'
import { parsePaperArgs } from '../../paper/run.js'

test('numbers read with 3 significant digits and times pick their unit', () => {
  assert.equal(num(1234.5), '1,235')
  assert.equal(num(12.345), '12.3')
  assert.equal(num(1.2345), '1.23')
  assert.equal(num(0.01234), '0.012')
  assert.equal(num(NaN), '–')
  assert.equal(time(31), '31.0 µs')
  assert.equal(time(5200), '5.20 ms')
  assert.equal(time(2.8e6), '2.80 s')
})

test('a measured row shows its median, interval and p99; a single sample shows no interval', () => {
  const m: Measured = { key: 'k', label: 'x', system: 'kindling', unit: 'us', n: 100, p50: 31, p99: 750, ci95: [30, 33] }
  assert.equal(measured(m), '**31.0 µs** [30.0 µs–33.0 µs], p99 750 µs')
  assert.equal(measured({ ...m, n: 1 }), '**31.0 µs**')
  assert.equal(measured(undefined), 'not measured')
})

test('ratios compare times across units', () => {
  const a: Measured = { key: 'a', label: 'a', system: 'container', unit: 'ms', n: 1, p50: 12 }
  const b: Measured = { key: 'b', label: 'b', system: 'kindling', unit: 'us', n: 1, p50: 40 }
  assert.equal(ratioOf(a, b), 300)
  assert.equal(ratioOf(a, undefined), undefined)
})

test('tables escape pipes and align columns', () => {
  const t = mdTable(['a', 'b'], [['x|y', '1']], ['l', 'r'])
  assert.equal(t, '| a | b |\n| --- | ---: |\n| x\\|y | 1 |')
})

test('recalled figures carry the mark, read ones do not', () => {
  assert.equal(cite(published('faasm.init.faaslet')), `5.2 ms ${RECALLED_MARK}`)
  assert.equal(cite(published('faasm.python.proto')), '0.9 ms')
  const ids = PUBLISHED.map((f) => f.id)
  assert.equal(new Set(ids).size, ids.length, 'figure ids are unique')
  for (const f of PUBLISHED) {
    assert.ok(['READ-primary', 'READ-secondary', 'RECALLED'].includes(f.provenance), f.id)
    if (f.unit !== 'text') assert.ok(Number.isFinite(f.value), `${f.id} has a value`)
  }
  // Faasm's Table 3 cells are recalled; the ratios in its text were read
  assert.equal(published('faasm.init.docker').provenance, 'RECALLED')
  assert.equal(published('faasm.pss.proto-ratio').provenance, 'READ-secondary')
})

test('the headline compares the fastest fresh start with the Faaslet and Proto-Faaslet', () => {
  const r1: ExperimentData = {
    id: 'R1', status: 'ok', method: [], notes: [], skipped: [],
    rows: [
      { key: 'k-inline-new', label: 'kindling inline: new sandbox', system: 'kindling', unit: 'us', n: 10, p50: 52 },
      { key: 'k-wasm-new', label: 'kindling wasm: new sandbox', system: 'kindling', unit: 'us', n: 10, p50: 400 },
      { key: 'c-crun-run-bb', label: 'crun run', system: 'container', unit: 'ms', n: 10, p50: 13 },
    ],
  }
  const text = headline(r1).join('\n')
  assert.match(text, /on the `inline` tier/)
  assert.match(text, /100x in-process/) // 5.2 ms / 52 µs
  assert.match(text, /crun run 13\.0 ms \(250x\)/)
  assert.deepEqual(headline(undefined), ['R1 did not run: no headline.'])
})

test('the pipeline input is a binary PPM and its last response carries the stages\' compute times', () => {
  const img = testImage(4, 2)
  assert.equal(img.subarray(0, 11).toString(), 'P6\n4 2\n255\n')
  assert.equal(img.length, 11 + 4 * 2 * 3)
  const res = Buffer.from('PIPE1 w=4 h=2 t1=1000 verified=1 t2=2000 t3=3000 thumb=1 t4=4000\nP6\n1 1\n255\n\0\0\0')
  assert.equal(computeUs(res), 10)
  assert.throws(() => computeUs(Buffer.from('P6\n')), /not a pipeline response/)
  assert.throws(() => computeUs(Buffer.from('PIPE1 t1=1 t2=2 t3=3 t4=4\n')), /no thumbnail/)
})

test('arguments: --quick writes to paper/quick, --only checks the experiment ids', () => {
  const a = parsePaperArgs(['--quick', '--only', 'r1,R7'], '/repo')
  assert.equal(a.outDir, path.join('/repo', 'paper', 'quick'))
  assert.deepEqual(a.only, ['R1', 'R7'])
  assert.equal(parsePaperArgs([], '/repo').outDir, path.join('/repo', 'paper'))
  assert.throws(() => parsePaperArgs(['--only', 'R99'], '/repo'), /unknown experiment R99/)
  assert.deepEqual(parsePaperArgs(['--rounds', '3'], '/repo').options, { rounds: '3' })
})

test('contents links use GitHub\'s heading anchors', () => {
  assert.equal(anchor('R1: No-op start time and its CPU cost'), 'r1-no-op-start-time-and-its-cpu-cost')
})
