// The gateway fuzz of bench/fuzz/ in a short run with a fixed seed, so CI runs the same properties
// (uploads, deployments, calls: no undocumented 5xx, nothing thrown, RSS bounded, /healthz OK).
// The 10-minute run: node --import tsx bench/fuzz/gateway-fuzz.ts 600
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runFuzz } from '../../../bench/fuzz/harness.js'

describe('gateway fuzz, quick', () => {
  it('survives 12 s of generated uploads, deployments and calls (seed 18)', { timeout: 120_000 }, async () => {
    const report = await runFuzz({ seconds: 12, seed: 18, rssLimitMiB: 1024 })
    const failures = report.failures.map((f) => `${f.reason}\n${JSON.stringify(f.counterexample).slice(0, 1000)}`)
    assert.deepEqual(failures, [], 'shrunk counterexamples')
    assert.deepEqual(report.uncaught, [])
    assert.ok(report.healthzAtEnd, '/healthz at the end')
    assert.ok(report.cases > 100, `${report.cases} cases`)
    for (const kind of ['upload', 'deploy', 'invoke']) assert.ok((report.casesByKind[kind] ?? 0) > 10, `${kind}: ${report.casesByKind[kind]}`)
  })
})
