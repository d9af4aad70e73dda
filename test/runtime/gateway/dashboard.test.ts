// The dashboard's static routes (caching headers, CSP, 404s, no way out of the asset list) and the
// two JSON routes it reads, GET /system/stats and GET /system/bench, both behind basic auth.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import Fastify from 'fastify'
import { after, before, describe, it } from 'node:test'
import { DASHBOARD_CSP, registerDashboardRoutes } from '../../../runtime/gateway/routes/dashboard.js'
import { benchFixture, builtDashboard } from '../../helpers/dashboard.js'
import { exampleModule, startKindling, tempDataDir, type TestKindling, waitWarm } from '../../helpers/kindling.js'

describe('dashboard routes', () => {
  let k: TestKindling
  let uiDir: string
  let benchDir: string
  let assets: { js: string; css: string; icon: string }

  before(async () => {
    ;({ dir: uiDir, assets } = await builtDashboard())
    benchDir = tempDataDir('kindling-bench-results-')
    benchFixture(benchDir)
    k = await startKindling({ dashboardDir: uiDir, benchResultsDir: benchDir })
  })
  after(async () => {
    await k.cleanup()
    fs.rmSync(uiDir, { recursive: true, force: true })
    fs.rmSync(benchDir, { recursive: true, force: true })
  })

  const get = (url: string, headers: Record<string, string> = {}) => k.app.inject({ method: 'GET', url, headers })

  it('serves the index at / and /ui/ without auth, revalidated every time, under a strict CSP', async () => {
    for (const url of ['/', '/ui/']) {
      const res = await get(url)
      assert.equal(res.statusCode, 200, url)
      assert.match(String(res.headers['content-type']), /^text\/html/)
      assert.equal(res.headers['cache-control'], 'no-cache')
      assert.equal(res.headers['content-security-policy'], DASHBOARD_CSP)
      assert.equal(res.headers['x-frame-options'], 'DENY')
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.headers['referrer-policy'], 'no-referrer')
      assert.ok(res.headers.etag)
      const again = await get(url, { 'if-none-match': String(res.headers.etag) })
      assert.equal(again.statusCode, 304)
      assert.equal(again.body, '')
      // nothing inline: every script has a src, no style element or attribute
      assert.ok(res.body.includes(`/ui/assets/${assets.js}`) && res.body.includes(`/ui/assets/${assets.css}`))
      assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>/)
      assert.doesNotMatch(res.body, /<style|\sstyle=|\son[a-z]+=/i)
    }
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) assert.ok(DASHBOARD_CSP.includes(directive), directive)
    assert.doesNotMatch(DASHBOARD_CSP, /unsafe|\*|https?:/)
    const moved = await get('/ui')
    assert.equal(moved.statusCode, 301)
    assert.equal(moved.headers.location, '/ui/')
  })

  it('serves hashed assets as immutable, with their types, HEAD included', async () => {
    for (const [name, type] of [[assets.js, /^text\/javascript/], [assets.css, /^text\/css/], [assets.icon, /^image\/svg\+xml/]] as const) {
      assert.match(name, /-[A-Za-z0-9]{8}\./, 'a content hash in the name')
      const res = await get(`/ui/assets/${name}`)
      assert.equal(res.statusCode, 200, name)
      assert.match(String(res.headers['content-type']), type)
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable')
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.body, fs.readFileSync(path.join(uiDir, 'assets', name), 'utf8'))
      const head = await k.app.inject({ method: 'HEAD', url: `/ui/assets/${name}` })
      assert.equal(head.statusCode, 200)
      assert.equal(head.body, '')
    }
  })

  it('answers 404 for unknown assets and any path that tries to leave the asset list', async () => {
    const tries = [
      '/ui/assets/app-00000000.js', '/ui/assets/', '/ui/assets/..%2f..%2fpackage.json', '/ui/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/ui/assets/../../package.json', '/ui/assets/..%5c..%5cpackage.json', '/ui/index.html', '/ui/assets/__proto__', '/ui/assets/constructor',
      '/ui/assets/hasOwnProperty', `/ui/assets/${assets.js}%00.txt`, `/ui/assets/${assets.js}/x`, '/ui/../package.json', '/ui/assets/%2fetc%2fpasswd', '/ui/foo',
    ]
    for (const url of tries) {
      const res = await get(url)
      assert.equal(res.statusCode, 404, url)
      assert.equal(res.headers['x-kindling-error'], 'KINDLING_ERR_ROUTE_NOT_FOUND', url)
      assert.doesNotMatch(res.body, /"name":\s*"kindling"|root:/, url)
    }
  })

  it('keeps the data behind basic auth: /system/stats and /system/bench answer 401 without it', async () => {
    for (const url of ['/system/stats', '/system/bench']) {
      const res = await get(url)
      assert.equal(res.statusCode, 401, url)
      assert.equal(res.headers['x-kindling-error'], 'KINDLING_ERR_UNAUTHORIZED')
    }
  })

  it('GET /system/stats: two minutes of calls per function and its cold starts by phase', async () => {
    await k.deploy('stats-echo', exampleModule('echo'))
    await waitWarm(k, 'stats-echo')
    for (let i = 0; i < 3; i++) assert.equal((await k.app.inject({ method: 'POST', url: '/function/stats-echo', payload: 'x' })).statusCode, 200)
    const res = await get('/system/stats', k.auth)
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['cache-control'], 'no-store')
    const body = res.json() as { functions: { name: string; namespace: string; invocations: number; series: { slotMs: number; calls: number[]; errors: number[]; p50Ms: (number | null)[]; p99Ms: (number | null)[] }; coldStarts: { tier: string; spawnMs: number; instantiateMs: number }[]; prepare: { ms: number } | null }[] }
    const f = body.functions.find((x) => x.name === 'stats-echo')!
    assert.equal(f.namespace, 'openfaas-fn')
    assert.equal(f.invocations, 3)
    assert.equal(f.series.calls.length, 60)
    assert.equal(f.series.calls.reduce((a, b) => a + b, 0), 3)
    assert.equal(f.series.errors.reduce((a, b) => a + b, 0), 0)
    const last = f.series.calls.findLastIndex((c) => c > 0)
    assert.ok(f.series.p50Ms[last]! > 0 && f.series.p99Ms[last]! >= f.series.p50Ms[last]!)
    assert.ok(f.coldStarts.length >= 1)
    assert.equal(f.coldStarts[0]!.tier, 'wasm')
    assert.ok(f.coldStarts[0]!.spawnMs >= 0 && f.coldStarts[0]!.instantiateMs >= 0)
    assert.ok(f.prepare && f.prepare.ms >= 0)
    const bad = await get('/system/stats?namespace=nope', k.auth)
    assert.equal(bad.statusCode, 400)
  })

  it('GET /system/logs?follow=true answers its headers at once, before any line (the page shows the stream live)', async () => {
    await k.deploy('quiet', exampleModule('noop'))
    const url = new URL(await k.listen())
    const req = http.get({ host: url.hostname, port: url.port, path: '/system/logs?name=quiet&follow=true', headers: k.auth })
    try {
      // bounded: without the flush the headers wait for the function's first log line, which never comes
      const res = await Promise.race([
        new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve)),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000)),
      ])
      assert.ok(res, 'the response headers arrived')
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['content-type'], 'application/x-ndjson')
    } finally {
      req.destroy()
    }
  })

  it('GET /system/bench: the latest bench runs, skipping files that are not run records', async () => {
    const res = await get('/system/bench', k.auth)
    assert.equal(res.statusCode, 200)
    const body = res.json() as { runs: { label: string; quick: boolean; cpu: string; scopes: { scope: string; rows: unknown[]; targets: unknown[] }[] }[] }
    assert.deepEqual(body.runs.map((r) => r.label), ['coldstart-quick'])
    assert.equal(body.runs[0]!.cpu, 'Test CPU (2 cores)')
    assert.deepEqual(body.runs[0]!.scopes.map((s) => s.scope), ['coldstart', 'peers'])
    assert.equal(body.runs[0]!.scopes[0]!.rows.length, 4)
  })
})

describe('dashboard routes without a dashboard', () => {
  it('answers 503 with what to run when the files were never built', async () => {
    const app = Fastify()
    const dir = tempDataDir('kindling-no-ui-')
    registerDashboardRoutes(app, { dir })
    const res = await app.inject({ method: 'GET', url: '/' })
    assert.equal(res.statusCode, 503)
    assert.equal(res.headers['x-kindling-error'], 'KINDLING_ERR_DASHBOARD_NOT_BUILT')
    assert.match(res.body, /npm run build/)
    assert.equal((await app.inject({ method: 'GET', url: '/ui/assets/app.js' })).statusCode, 404)
    await app.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('leaves / a 404 when KINDLING_DASHBOARD=false', async () => {
    const k = await startKindling({ dashboard: false })
    try {
      const res = await k.app.inject({ method: 'GET', url: '/' })
      assert.equal(res.statusCode, 404)
      assert.equal(res.headers['x-kindling-error'], 'KINDLING_ERR_ROUTE_NOT_FOUND')
    } finally {
      await k.cleanup()
    }
  })
})
