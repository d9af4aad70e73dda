// The dashboard in a real browser (Debian's chromium, headless, through playwright-core): log in,
// deploy a module through the file input, invoke it and see its answer, open the bench page, with
// no JavaScript error on the way. Screenshots go to test-output/ (CI keeps them as artifacts).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { REPO_ROOT } from '../../runtime/version.js'
import { benchFixture, builtDashboard } from '../helpers/dashboard.js'
import { exampleModule, startKindling, tempDataDir, type TestKindling } from '../helpers/kindling.js'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p))
const OUT = path.join(REPO_ROOT, 'test-output')

describe('dashboard in chromium', { skip: CHROMIUM ? false : 'chromium is not installed (apt-get install chromium; .ci/run does)' }, () => {
  let k: TestKindling
  let browser: Browser
  let page: Page
  let url: string
  let uiDir: string
  let benchDir: string
  const problems: string[] = []

  before(async () => {
    uiDir = (await builtDashboard()).dir
    benchDir = tempDataDir('kindling-bench-results-')
    benchFixture(benchDir)
    k = await startKindling({ dashboardDir: uiDir, benchResultsDir: benchDir })
    url = await k.listen()
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    // function code is untrusted: the operator's credentials must never reach /function/*
    // (allHeaders: headers() leaves out security-related ones)
    page.on('request', (r) => {
      if (!new URL(r.url()).pathname.startsWith('/function/')) return
      void r.allHeaders().then((hs) => {
        if (hs.authorization !== undefined) problems.push(`credentials sent to ${r.url()}`)
      })
    })
    page.on('requestfailed', (r) => {
      // the log stream is cut when the page moves on: that is the dashboard stopping it
      if (!r.url().includes('/system/logs')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`)
    })
    fs.mkdirSync(OUT, { recursive: true })
  })

  after(async () => {
    await browser?.close()
    await k?.cleanup()
    fs.rmSync(uiDir, { recursive: true, force: true })
    fs.rmSync(benchDir, { recursive: true, force: true })
  })

  it('logs in, deploys a .wasm by the file input, invokes it and shows the answer, without errors', async () => {
    await page.goto(`${url}/`)
    await page.fill('#login-password', 'wrong')
    await page.click('form.login button[type=submit]')
    await page.waitForSelector('form.login .error')
    assert.match(await page.textContent('form.login .error') ?? '', /UNAUTHORIZED/)
    // the wrong password's 401 is the one thing chromium may log (as a failed resource load)
    assert.ok(problems.every((p) => /status of 401/.test(p)), problems.join('\n'))
    problems.splice(0, problems.length)

    await page.fill('#login-password', k.credentials!.password)
    await page.click('form.login button[type=submit]')
    await page.waitForSelector('h1:text("Functions")')

    await page.click('a.button[href="#/deploy"]')
    await page.setInputFiles('#deploy-file', exampleModule('echo'))
    await page.fill('#deploy-name', 'browser-echo')
    await page.fill('#deploy-labels', 'com.kindling.app=demo')
    await page.click('#deploy-submit')
    await page.waitForSelector('h1:text("browser-echo")', { timeout: 30_000 })

    await page.fill('#invoke-body', 'hello from chromium')
    await page.click('#invoke-send')
    await page.waitForSelector('#invoke-status', { timeout: 30_000 })
    assert.match(await page.textContent('#invoke-status') ?? '', /^200/)
    assert.equal(await page.textContent('#invoke-body-out'), 'hello from chromium')
    // the gateway counted it and the page shows it on its next poll
    await page.waitForFunction(() => document.getElementById('invocations')?.textContent === '1', undefined, { timeout: 10_000 })
    await page.screenshot({ path: path.join(OUT, 'dashboard-function.png'), fullPage: true })
    // the credentials live in the page's memory only, where a function's page on this origin cannot read them
    assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, ''])

    await page.click('nav a[href="#/"]:text("Functions")')
    await page.waitForSelector('tr[data-function="browser-echo"] svg.spark.p50')
    assert.match(await page.textContent('tr[data-function="browser-echo"]') ?? '', /wasm.*demo/)
    await page.screenshot({ path: path.join(OUT, 'dashboard-functions.png'), fullPage: true })
    assert.deepEqual(problems, [])
  })

  it('scales and removes a function', async () => {
    await page.click('tr[data-function="browser-echo"] a')
    await page.waitForSelector('h1:text("browser-echo")')
    await page.fill('#scale-replicas', '2')
    await page.click('button:text("Scale")')
    await page.waitForFunction(() => /\/2$/.test(document.querySelector('table.functions tbody td:nth-child(3)')?.textContent ?? ''), undefined, { timeout: 30_000 })
    await page.click('button:text("Remove")')
    await page.click('button:text("Click again to remove")')
    await page.waitForSelector('h1:text("Functions")')
    await page.waitForSelector('td:text("Nothing deployed in this namespace.")')
    assert.equal(k.registry.get('browser-echo', 'openfaas-fn'), undefined)
    assert.deepEqual(problems, [])
  })

  it('charts the latest benchmark run with floors and peers', async () => {
    await page.click('nav a[href="#/bench"]')
    await page.waitForSelector('svg.bars')
    assert.ok((await page.locator('svg.bars rect.floor').count()) >= 1, 'a cold start row is drawn beside its floor')
    assert.match(await page.textContent('.group.summary') ?? '', /Cold start per tier[\s\S]*wasm \/ noop/)
    assert.match(await page.textContent('main') ?? '', /peers[\s\S]*workerd/)
    assert.match(await page.textContent('table.targets') ?? '', /missed/)
    await page.screenshot({ path: path.join(OUT, 'dashboard-bench.png'), fullPage: true })
    assert.deepEqual(problems, [])
  })

  it('loads light and fast: page weight and time to interactive', async (t) => {
    const fresh = await browser.newPage()
    await fresh.goto(`${url}/ui/`, { waitUntil: 'load' })
    const m = await fresh.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming
      const res = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
      return { bytes: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0), requests: 1 + res.length, interactiveMs: nav.domInteractive, loadMs: nav.loadEventEnd }
    })
    await fresh.waitForSelector('form.login')
    t.diagnostic(`dashboard: ${m.requests} requests, ${m.bytes} bytes transferred, DOM interactive ${m.interactiveMs.toFixed(0)} ms, load ${m.loadMs.toFixed(0)} ms`)
    await fresh.close()
    assert.ok(m.bytes < 200_000, `the page weighs ${m.bytes} bytes`)
  })
})
