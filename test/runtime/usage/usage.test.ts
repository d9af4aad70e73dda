// Usage per function (issue 13, item 5): the meter's minutes and their SQLite batches, GET
// /system/function/{name} `usage`, /metrics, GET /system/usage?since= and the history across a
// restart, on real tiers (wasm in an app host, process).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { test } from 'node:test'
import { openDatabase } from '../../../runtime/registry/db.js'
import { UsageMeter } from '../../../runtime/usage/meter.js'
import { parseSince } from '../../../runtime/usage/routes.js'
import { UsageStore } from '../../../runtime/usage/store.js'
import { usageTable } from '../../../runtime/cli/usage.js'
import { exampleModule, startKindling, tempDataDir, waitWarm } from '../../helpers/kindling.js'
import { containerSkipReason } from '../../isolation/container/helpers.js'
import { spawnCli } from '../../helpers/cli.js'

const GIB = 1024 ** 3

test('the meter keeps minutes, writes them in one batch, and its history survives a reopen', () => {
  const dir = tempDataDir()
  try {
    let now = Date.UTC(2026, 0, 1, 12, 0, 10)
    const db = openDatabase(dir)
    const meter = new UsageMeter(new UsageStore(db), { flushMs: 0, retentionMs: 0, now: () => now })
    const f = meter.forFunction('a.openfaas-fn')
    f.record(2_000_000, 500_000, GIB, 10, 20) // 2 s at 1 GiB: 2 GB-s
    now += 60_000 // next minute: the first is sealed
    f.record(1_000_000, undefined, GIB / 2, 1, 2)
    assert.equal(f.total.invocations, 2)
    assert.equal(f.total.cpuCalls, 1)
    assert.equal(f.total.gibUs / 1e6, 2.5)
    // nothing written yet; since() still sees both
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM usage_minutes').get() as { n: number }).n, 0)
    assert.equal(meter.since(undefined).get('a.openfaas-fn')!.invocations, 2)
    // --since the second minute sees only its call
    assert.equal(meter.since(now - 1000).get('a.openfaas-fn')!.invocations, 1)
    meter.flush()
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM usage_minutes').get() as { n: number }).n, 2)
    const all = meter.since(undefined).get('a.openfaas-fn')!
    assert.deepEqual({ ...all }, { invocations: 2, wallUs: 3_000_000, cpuUs: 500_000, cpuCalls: 1, gibUs: 2_500_000, bytesIn: 11, bytesOut: 22 })
    f.record(1_000_000, 100, GIB, 0, 0)
    meter.close()
    db.close()

    const db2 = openDatabase(dir)
    const again = new UsageMeter(new UsageStore(db2), { flushMs: 0, retentionMs: 0, now: () => now })
    assert.equal(again.since(undefined).get('a.openfaas-fn')!.invocations, 3)
    // totals since history began start from the stored rows
    assert.equal(again.forFunction('a.openfaas-fn').total.invocations, 3)
    db2.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('rows older than the retention are deleted at a write', () => {
  const dir = tempDataDir()
  try {
    let now = Date.UTC(2026, 0, 1)
    const db = openDatabase(dir)
    const meter = new UsageMeter(new UsageStore(db), { flushMs: 0, retentionMs: 3_600_000, now: () => now })
    meter.forFunction('old.openfaas-fn').record(1, undefined, 0, 0, 0)
    meter.flush()
    now += 2 * 3_600_000
    meter.forFunction('new.openfaas-fn').record(1, undefined, 0, 0, 0)
    meter.flush()
    assert.deepEqual([...meter.since(undefined).keys()], ['new.openfaas-fn'])
    db.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('--since takes durations with days, and RFC 3339 times', () => {
  const now = 1_000_000_000_000
  assert.equal(parseSince('90m', now), now - 90 * 60_000)
  assert.equal(parseSince('7d', now), now - 7 * 86_400_000)
  assert.equal(parseSince('1d12h', now), now - 36 * 3_600_000)
  assert.equal(parseSince('2026-01-01T00:00:00Z', now), Date.UTC(2026, 0, 1))
  for (const bad of ['', 'd', 'soon', '5x', '1d2x']) assert.equal(parseSince(bad, now), undefined, bad)
})

test('the usage table shows "-" for CPU no tier measured', () => {
  const out = usageTable([
    { name: 'echo', namespace: 'openfaas-fn', invocations: 3, wallSeconds: 0.01, cpuSeconds: 0.002, cpuMeasuredInvocations: 3, gbSeconds: 0.00125, bytesIn: 30, bytesOut: 2048 },
    { name: 'web', namespace: 'dev', invocations: 1, wallSeconds: 1, cpuSeconds: 0, cpuMeasuredInvocations: 0, gbSeconds: 0.125, bytesIn: 0, bytesOut: 0 },
  ])
  const lines = out.trimEnd().split('\n')
  assert.match(lines[0]!, /^FUNCTION\s+CALLS\s+WALL s\s+CPU s/)
  assert.match(lines[1]!, /^echo\s+3\s+0\.010\s+0\.002\s+3\s+0\.001\s+30 B\s+2\.0 KiB$/)
  assert.match(lines[2]!, /^web\.dev\s+1\s+1\.000\s+-\s+0/)
})

test('calls show in usage of GET /system/function/{name}, /metrics and /system/usage, across a restart', async () => {
  const dir = tempDataDir()
  let k = await startKindling({}, { dataDir: dir, keepDataDir: true })
  try {
    await k.deploy('echo', exampleModule('echo'), { limits: { memory: '64Mi' } })
    await k.deploy('echo-proc', exampleModule('echo'), { labels: { 'com.kindling.isolation': 'process' }, limits: { memory: '64Mi' } })
    await k.deploy('echo-thread', exampleModule('echo'), { labels: { 'com.kindling.isolation': 'thread' }, limits: { memory: '64Mi' } })
    await waitWarm(k, 'echo')
    await waitWarm(k, 'echo-proc')
    await k.deploy('echo-inline', exampleModule('echo'), { labels: { 'com.kindling.isolation': 'inline' }, limits: { memory: '64Mi' } })
    await waitWarm(k, 'echo-thread')
    await waitWarm(k, 'echo-inline')
    const body = 'x'.repeat(100)
    for (const name of ['echo', 'echo-proc', 'echo-thread', 'echo-inline']) {
      for (let i = 0; i < 3; i++) {
        const r = await k.app.inject({ method: 'POST', url: `/function/${name}`, payload: body })
        assert.equal(r.statusCode, 200, r.body)
      }
      const st = await k.app.inject({ method: 'GET', url: `/system/function/${name}`, headers: k.auth })
      const u = (st.json() as { usage: Record<string, number> }).usage
      assert.ok(u, `usage of ${name}`)
      // OpenFaaS's fields, then kindling's
      assert.equal(typeof u.cpu, 'number')
      assert.equal(u.totalMemoryBytes! % (64 * 1024 * 1024), 0)
      assert.equal(u.invocations, 3)
      assert.equal(u.bytesIn, 300)
      assert.ok(u.bytesOut! >= 300, `echo answers its body: ${u.bytesOut}`)
      assert.ok(u.wallSeconds! > 0 && u.gbSeconds! > 0)
      // one call at a time: the app host (wasm, thread) and the sandbox process measure CPU; inline
      // the gateway process's CPU around the call (an upper bound)
      assert.equal(u.cpuMeasuredInvocations, 3, name)
      assert.ok(u.cpuSeconds! > 0, name)
    }
    // the list stays as OpenFaaS has it: no usage there
    const list = (await k.app.inject({ method: 'GET', url: '/system/functions', headers: k.auth })).json() as Record<string, unknown>[]
    assert.ok(list.every((f) => f.usage === undefined))
    const metrics = (await k.app.inject({ method: 'GET', url: '/metrics' })).body
    assert.match(metrics, /kindling_function_cpu_seconds_total\{function_name="echo\.openfaas-fn"\} [0-9.e-]+/)
    assert.match(metrics, /kindling_function_bytes_total\{function_name="echo-proc\.openfaas-fn",direction="in"\} 300/)
    assert.match(metrics, /kindling_function_gb_seconds_total\{function_name="echo\.openfaas-fn"\}/)
    const bad = await k.app.inject({ method: 'GET', url: '/system/usage?since=soon', headers: k.auth })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.json().code, 'KINDLING_ERR_INVALID_FIELD')
    assert.equal((await k.app.inject({ method: 'GET', url: '/system/usage' })).statusCode, 401)
    await k.close()

    k = await startKindling({}, { dataDir: dir, keepDataDir: true })
    const res = await k.app.inject({ method: 'GET', url: '/system/usage?since=1h', headers: k.auth })
    assert.equal(res.statusCode, 200, res.body)
    const fns = (res.json() as { functions: { name: string; invocations: number; cpuMeasuredInvocations: number }[] }).functions
    assert.deepEqual(fns.map((f) => [f.name, f.invocations, f.cpuMeasuredInvocations]), [['echo', 3, 3], ['echo-inline', 3, 3], ['echo-proc', 3, 3], ['echo-thread', 3, 3]])
    const st = (await k.app.inject({ method: 'GET', url: '/system/function/echo', headers: k.auth })).json() as { usage: Record<string, number> }
    assert.equal(st.usage.invocations, 3)
    // the CLI's table, from a real process
    const url = await k.listen()
    const cli = spawnCli(['usage', '--since', '7d', '--gateway', url, '--data-dir', dir])
    const code = await new Promise<number | null>((r) => cli.on('exit', r))
    assert.equal(code, 0, cli.errors())
    assert.match(cli.output(), /^FUNCTION\s+CALLS/)
    assert.match(cli.output(), /^echo-proc\s+3\s+\d+\.\d{3}\s+\d+\.\d{3}\s+3\s/m)
  } finally {
    await k.cleanup()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a container function reports its cgroup CPU', { skip: containerSkipReason() ?? false }, async () => {
  const k = await startKindling()
  try {
    const dep = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: 'ctr', image: 'functions/alpine:latest', envProcess: 'sha512sum' } })
    assert.equal(dep.statusCode, 202, dep.body)
    for (let i = 0; i < 2; i++) {
      const r = await k.app.inject({ method: 'POST', url: '/function/ctr', payload: Buffer.alloc(1 << 20, 7) })
      assert.equal(r.statusCode, 200, r.body)
    }
    const u = ((await k.app.inject({ method: 'GET', url: '/system/function/ctr', headers: k.auth })).json() as { usage: Record<string, number> }).usage
    assert.equal(u.invocations, 2)
    assert.equal(u.cpuMeasuredInvocations, 2)
    assert.ok(u.cpuSeconds! > 0, `cpuSeconds ${u.cpuSeconds}`)
    assert.equal(u.bytesIn, 2 << 20)
  } finally {
    await k.cleanup()
  }
})
