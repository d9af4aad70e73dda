// The pieces the benchmark runner is made of, checked fast (no tiers, no gateway): statistics,
// tables, result files, argument parsing, scope lookup, the bare wasm floor and the HTTP client.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { bareAssemblyScript, bareWasi } from '../../bench/lib/bare-wasm.js'
import { ChildFloor } from '../../bench/lib/child-floor.js'
import { applyBaselines, runInterleaved, timeRow, withTimeout } from '../../bench/lib/cases.js'
import { environmentRecord } from '../../bench/lib/env.js'
import { BENCH_FUNCTIONS, withNonce } from '../../bench/lib/functions.js'
import { buildRequest, Http1Connection } from '../../bench/lib/http1.js'
import { createProgress } from '../../bench/lib/progress.js'
import { locateScope, SCOPES } from '../../bench/lib/registry.js'
import { toCsv, writeResults } from '../../bench/lib/results.js'
import { target } from '../../bench/lib/scope.js'
import { legacyRows } from '../../bench/lib/script-scope.js'
import { bootstrapMedianCI, median, percentile, summarize } from '../../bench/lib/stats.js'
import { fmt, rowsTable, targetsTable } from '../../bench/lib/table.js'
import { parseArgs } from '../../bench/run.js'
import { scopeMarkdown } from '../../bench/summary.js'
import { knee } from '../../bench/scopes/churn.js'
import { REPO_ROOT } from '../../runtime/version.js'

const silent = createProgress('test', { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream)

describe('bench statistics', () => {
  it('takes percentiles by nearest rank', () => {
    const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]
    assert.equal(median(v), 5, 'the lower middle value for an even n')
    assert.equal(percentile(v, 99), 10)
    assert.equal(percentile(v, 90), 9)
    assert.equal(percentile(v, 0), 1)
    assert.ok(Number.isNaN(median([])))
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    assert.equal(percentile(hundred, 99), 99)
    assert.equal(percentile(hundred, 50), 50)
  })

  it('gives a repeatable bootstrap interval around the median', () => {
    const v = Array.from({ length: 500 }, (_, i) => 100 + (i % 17))
    const a = bootstrapMedianCI(v, { seed: 1 })
    assert.deepEqual(a, bootstrapMedianCI(v, { seed: 1 }))
    assert.ok(a[0] <= median(v) && median(v) <= a[1], `${a} around ${median(v)}`)
    const blocks = [v.slice(0, 250).map((x) => x + 50), v.slice(250)]
    const b = bootstrapMedianCI(v, { blocks, seed: 1 })
    assert.ok(b[1] - b[0] >= a[1] - a[0], 'drift between blocks widens the interval')
    const s = summarize([3, 1, 2])
    assert.deepEqual([s.n, s.p50, s.min, s.max, s.mean], [3, 2, 1, 3, 2])
  })
})

describe('bench tables and result files', () => {
  it('formats numbers, rows with ratios and targets with their verdict', () => {
    assert.equal(fmt(0.1234), '0.12')
    assert.equal(fmt(12.34), '12.3')
    assert.equal(fmt(1234.5), '1,235')
    assert.equal(fmt(1234.5, 'req/s'), '1,235')
    const rows = [timeRow('floor', 'bare', [10, 10, 10]), timeRow('wasm / noop', 'cold', [20, 20, 20, 30], undefined, { baseline: 'floor|bare' })]
    applyBaselines(rows)
    assert.equal(rows[1]!.ratio, 2)
    assert.match(rowsTable(rows), /wasm \/ noop\s+cold\s+4\s+20.0\s+30.0.*2.00x/)
    const t = [target({ id: 'a', text: 'p50 under 0.2 ms', value: 0.5, limit: 0.2, unit: 'ms', op: '<=' }), target({ id: 'b', text: 'at least 70%', value: 80, limit: 70, unit: 'percent', op: '>=' })]
    assert.deepEqual(t.map((x) => x.holds), [false, true])
    assert.match(targetsTable(t), /MISSED by 2.50x/)
    assert.equal(timeRow('g', 'slow', [20_000, 30_000]).unit, 'ms')
  })

  it('writes JSON, CSV, the environment and the report, with latest copies', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-bench-test-'))
    try {
      const environment = environmentRecord(REPO_ROOT, 'test')
      assert.ok(environment.cpu.cores >= 1 && environment.node.version.startsWith('v'))
      const scopes = [{ scope: 's', status: 'ok' as const, rows: [{ group: 'a,"b"', name: 'n', unit: 'us' as const, n: 1, p50: 1.5 }], targets: [], notes: [] }]
      const files = writeResults(dir, { kind: 'kindling-bench', version: 1, label: 'x', quick: true, environment, scopes, seconds: 1 }, 'report')
      for (const f of Object.values(files)) assert.ok(fs.existsSync(f), f)
      for (const ext of ['json', 'csv', 'env.json', 'txt']) assert.ok(fs.existsSync(path.join(dir, `x-latest.${ext}`)))
      const csv = toCsv(scopes)
      assert.match(csv, /^scope,kind,group,name,unit,n,p50/)
      assert.match(csv, /s,row,"a,""b""",n,us,1,1.5/)
      assert.equal(JSON.parse(fs.readFileSync(files.json, 'utf8')).scopes[0].rows[0].p50, 1.5)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('renders a scope as Markdown for the README, phases left out', () => {
    const md = scopeMarkdown({ scope: 's', status: 'ok', rows: [timeRow('g', 'total', [1, 2, 3]), timeRow('g', '  phase', [1])], targets: [target({ id: 't', text: 'a | b', value: 3, limit: 2, unit: 'us', op: '<=' })], notes: [] }, false)
    assert.match(md, /^### s\n\n\| group \| measurement/)
    assert.doesNotMatch(md, /phase/)
    assert.match(md, /a \\\| b \| 3.00 us \| <= 2.00 us \| \*\*missed\*\* by 1.50x/)
  })

  it('reads the container script\'s own result format', () => {
    const { rows, targets } = legacyRows({ rows: [{ group: 'busybox', case: 'raw crun run (same bundle)', n: 3, medianMs: 12, p99Ms: 20, ratioToRawCrun: 1 }], targets: [{ target: 'x <= 1.3x raw crun run', value: 1.1, limit: 1.3, holds: true }] })
    assert.equal(rows[0]!.p50, 12)
    assert.equal(targets[0]!.holds, true)
  })
})

describe('bench runner', () => {
  it('parses scopes, --quick and pass-through options', () => {
    const a = parseArgs(['--scope', 'coldstart,load', '--quick', '--n', '200', '--no-engines', '--tiers=wasm'])
    assert.deepEqual(a.scopes, ['coldstart', 'load'])
    assert.equal(a.quick, true)
    assert.deepEqual(a.options, { n: '200', 'no-engines': true, tiers: 'wasm' })
    assert.deepEqual(parseArgs([]).scopes, SCOPES.map((s) => s.name))
    assert.throws(() => parseArgs(['--scope', 'nope']), /unknown scope nope/)
  })

  it('finds scope modules, falls back to scripts, and says when a scope is not there yet', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-bench-scopes-'))
    try {
      const info = (name: string) => SCOPES.find((s) => s.name === name)!
      assert.equal(locateScope(info('coldstart'), root, root).kind, 'module')
      const missing = locateScope(info('ops'), root, root)
      assert.equal(missing.kind, 'missing')
      assert.match((missing as { reason: string }).reason, /not available yet/)
      fs.mkdirSync(path.join(root, 'bench', 'container'), { recursive: true })
      fs.writeFileSync(path.join(root, 'bench', 'container', 'coldstart.ts'), '// a script\n')
      const scripts = locateScope(info('container'), root, root)
      assert.equal(scripts.kind, 'scripts')
      assert.equal((scripts as { files: { from: string }[] }).files[0]!.from, 'source')
      // from sources the scope module is the .ts itself (built, it is the .js under dist/)
      fs.writeFileSync(path.join(root, 'bench', 'container', 'scope.ts'), 'export async function run(ctx) {}\n')
      assert.equal(locateScope(info('container'), root, root).kind, 'module')
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })

  it('runs cases interleaved, keeps batches as blocks, and fails a stuck case alone', async () => {
    let a = 0
    const results = await runInterleaved(
      [
        { group: 'g', name: 'a', batch: 3, warmup: 1, sample: async () => ++a },
        { group: 'g', name: 'stuck', batch: 1, warmup: 0, sample: () => new Promise(() => {}) },
        { group: 'g', name: 'phases', batch: 2, warmup: 0, sample: async () => ({ us: 5, parts: { x: 1 } }) },
      ],
      2,
      silent,
      () => false,
      { sampleTimeoutMs: 50 },
    )
    assert.deepEqual(results[0]!.samples, [2, 3, 4, 5, 6, 7])
    assert.equal(results[0]!.blocks.length, 2)
    assert.match(results[1]!.error ?? '', /no result after/)
    assert.deepEqual(results[2]!.parts.get('x'), [1, 1, 1, 1])
    await assert.rejects(withTimeout(new Promise(() => {}), 10, 'x'), /x: no result/)
  })

  it('finds the knee of a churn sweep', () => {
    const o = (rate: number, achievedRps: number, p50: number) => ({ rate, achievedRps, latencyUs: { p50, p90: p50, p99: p50, max: p50 } })
    assert.equal(knee([o(10, 10, 100), o(100, 99, 120), o(1000, 700, 5000)]), 100)
    assert.equal(knee([o(10, 5, 100)]), undefined)
  })
})

describe('bench floors and client', () => {
  it('runs the bare wasm floor of every benchmark function', () => {
    for (const f of BENCH_FUNCTIONS) {
      const m = new WebAssembly.Module(fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', f.wasmFile)))
      const call = f.wasmKind === 'as' ? bareAssemblyScript(m, f.body) : bareWasi(m, f.body)
      assert.equal(f.check(Buffer.from(call())), undefined, f.name)
    }
  })

  it('runs the bare wasm floor in a child process over a socketpair, and the bare round trip', async () => {
    const f = BENCH_FUNCTIONS.find((x) => x.name === 'echo')!
    const child = await ChildFloor.start(f.wasmKind, path.join(REPO_ROOT, 'functions', 'dist', f.wasmFile))
    const hop = await ChildFloor.start('echo')
    try {
      for (let i = 0; i < 3; i++) {
        const r = await child.call(f.body)
        assert.equal(f.check(r.out), undefined)
        assert.ok(r.us > 0)
        assert.deepEqual((await hop.call(Buffer.from(`x${i}`))).out, Buffer.from(`x${i}`))
      }
    } finally {
      await child.stop()
      await hop.stop()
    }
  })

  it('makes modules with unique bytes that still compile', () => {
    const bytes = fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', 'noop.wasm'))
    const a = withNonce(bytes, 'one')
    assert.notDeepEqual(a, withNonce(bytes, 'two'))
    assert.ok(WebAssembly.validate(new Uint8Array(a)))
  })

  it('times requests on one keep-alive connection', async () => {
    const server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => res.end(body.toUpperCase()))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    const conn = await Http1Connection.open(url)
    try {
      const raw = buildRequest(url, 'POST', '/', Buffer.from('hi'))
      for (let i = 0; i < 3; i++) {
        const r = await conn.request(raw)
        assert.equal(r.status, 200)
        assert.equal(r.body.toString(), 'HI')
        assert.ok(r.us > 0)
      }
    } finally {
      conn.close()
      server.close()
    }
  })
})
