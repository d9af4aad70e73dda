// What a wasi:http component costs against core modules, all measured in one run on one kindling:
//   transpile  the jco helper on the example component (cold, a new process each time), and the
//              deploy of a component with a cold and with a warm transpile cache
//   instance   instantiate and run, per call, measured inside the sandbox (prewarm off and no
//              snapshot reset, so every call makes a new instance on its critical path)
//   gateway    whole calls through the gateway (fastify.inject), default labels: prewarm on, and
//              core modules reset to a memory snapshot instead of a new instance
// Baselines: the AssemblyScript echo and the C/WASI cat (stdin to stdout) on the same tiers.
// The JavaScript template (templates/js, built here by `kindling new` and `kindling build`: esbuild +
// componentize-js) runs too, with at most JS_CALLS calls: each of its instances is 12 MB of
// StarlingMonkey. Sizes are in the table.
//   npm run build && node dist/bench/component/run.js [--calls 2000] [--quick]
// Writes bench/results/component-<time>.json.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { type InvokeRequest, runJco, type Sandbox, TRANSPILE_OPTIONS } from '../../isolation/index.js'
import { createKindling, type Kindling, loadConfig, REPO_ROOT } from '../../runtime/index.js'

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const callsArg = argv.indexOf('--calls')
const CALLS = callsArg >= 0 ? Number(argv[callsArg + 1]) : quick ? 300 : 2000
const TRANSPILES = quick ? 1 : 3
const TIERS = ['wasm', 'inline'] as const
const BODY = Buffer.from('hello, kindling\n')

const JS_CALLS = Math.min(CALLS, quick ? 100 : 300)

const FUNCTIONS: { name: string; file: string; about: string; calls?: number }[] = [
  { name: 'component', file: path.join(REPO_ROOT, 'functions', 'component', 'http-echo.wasm'), about: 'wasi:http component (C, jco bindings)' },
  { name: 'as-echo', file: path.join(REPO_ROOT, 'functions', 'dist', 'echo.wasm'), about: 'core module, AssemblyScript echo' },
  { name: 'wasi-cat', file: path.join(REPO_ROOT, 'functions', 'dist', 'cat.wasm'), about: 'core module, C/WASI stdin to stdout' },
]

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN
}
const summary = (xs: number[]) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), n: xs.length })
const fmt = (s: { p50: number; p99: number }, digits = 0) => `${s.p50.toFixed(digits)} / ${s.p99.toFixed(digits)}`

async function measureTranspile(): Promise<number[]> {
  const bytes = fs.readFileSync(FUNCTIONS[0]!.file)
  const out: number[] = []
  for (let i = 0; i < TRANSPILES; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-bench-jco-'))
    const t0 = performance.now()
    await runJco({ op: 'transpile', outDir: dir, options: TRANSPILE_OPTIONS }, bytes)
    out.push(performance.now() - t0)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return out
}

async function upload(k: Kindling, auth: Record<string, string>, file: string): Promise<string> {
  const res = await k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { ...auth, 'content-type': 'application/wasm' }, payload: fs.readFileSync(file) })
  if (res.statusCode !== 201) throw new Error(`upload of ${file}: ${res.statusCode} ${res.body}`)
  return (res.json() as { image: string }).image
}

async function deploy(k: Kindling, auth: Record<string, string>, service: string, image: string, labels: Record<string, string>): Promise<number> {
  const t0 = performance.now()
  const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: auth, payload: { service, image, labels } })
  if (res.statusCode !== 202) throw new Error(`deploy of ${service}: ${res.statusCode} ${res.body}`)
  return performance.now() - t0
}

function request(i: number): InvokeRequest {
  return { callId: `bench-${i}`, method: 'POST', path: '/', query: '', headers: { 'content-type': 'text/plain', host: 'localhost' }, body: BODY, deadline: Date.now() + 10_000 }
}

/** Per call, inside the sandbox: instantiate (on the critical path) and run, in µs. */
async function measureInstances(k: Kindling, service: string, calls: number): Promise<{ instantiate: number[]; run: number[] }> {
  const fn = k.dispatcher.get(service, k.config.defaultNamespace)
  if (!fn?.prepared) throw new Error(`${service} is not prepared`)
  const sandbox: Sandbox = await fn.tier.spawn(fn.prepared, { sandboxId: `bench-${service}` })
  const never = new AbortController().signal
  const instantiate: number[] = []
  const run: number[] = []
  try {
    for (let i = 0; i < calls + calls / 10; i++) {
      const r = await sandbox.invoke(request(i), never)
      if (r.status !== 200) throw new Error(`${service}: ${r.status} ${r.body.toString()}`)
      // the sandbox drops its instance right after answering; give it that turn before the next call
      await new Promise((res) => setImmediate(res))
      if (i < calls / 10 || !r.timings) continue // warm-up
      instantiate.push(r.timings.instantiateUs)
      run.push(r.timings.runUs)
    }
  } finally {
    await sandbox.dispose('shutdown')
  }
  return { instantiate, run }
}

async function measureGateway(k: Kindling, service: string, calls: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < calls + calls / 10; i++) {
    const t0 = performance.now()
    const r = await k.app.inject({ method: 'POST', url: `/function/${service}`, headers: { 'content-type': 'text/plain' }, payload: BODY })
    const us = (performance.now() - t0) * 1000
    if (r.statusCode !== 200) throw new Error(`${service}: ${r.statusCode} ${r.body}`)
    if (i >= calls / 10) out.push(us)
  }
  return out
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-bench-component-'))
  const k = await createKindling(loadConfig({}, { dataDir, port: 0, deployExamples: false, spareAppHosts: 0 }))
  const auth: Record<string, string> = k.credentials ? { authorization: `Basic ${Buffer.from(`${k.credentials.user}:${k.credentials.password}`).toString('base64')}` } : {}
  try {
    process.stderr.write('building the JavaScript template (esbuild + componentize-js)...\n')
    FUNCTIONS.push({ name: 'js-fetch', file: await buildJsTemplate(dataDir), about: 'wasi:http component, JS template (componentize-js)', calls: JS_CALLS })
    process.stderr.write(`transpiling the example ${TRANSPILES}x with the jco helper...\n`)
    const transpile = await measureTranspile()

    const images = new Map<string, string>()
    for (const f of FUNCTIONS) images.set(f.name, await upload(k, auth, f.file))
    const deployMs: Record<string, number> = {}
    const rows: Record<string, unknown>[] = []
    for (const tier of TIERS) {
      for (const f of FUNCTIONS) {
        const image = images.get(f.name)!
        // prewarm off and no snapshot reset: every call makes a new instance on its critical path,
        // where it is measured (components always get a new instance; core modules by default
        // restore a memory snapshot instead, which the gateway rows show)
        const ms = await deploy(k, auth, `${f.name}-${tier}-cold`, image, { 'com.kindling.isolation': tier, 'com.kindling.prewarm': 'false', 'com.kindling.reset': 'reinstantiate' })
        if (f.name === 'component' || f.name === 'js-fetch') deployMs[`${f.name} on ${tier} (transpile cache ${tier === TIERS[0] ? 'cold' : 'warm'})`] = ms
        await deploy(k, auth, `${f.name}-${tier}`, image, { 'com.kindling.isolation': tier })
        process.stderr.write(`measuring ${f.name} on ${tier}...\n`)
        const inst = await measureInstances(k, `${f.name}-${tier}-cold`, f.calls ?? CALLS)
        const gw = await measureGateway(k, `${f.name}-${tier}`, f.calls ?? CALLS)
        rows.push({ function: f.name, about: f.about, tier, bytes: fs.statSync(f.file).size, instantiateUs: summary(inst.instantiate), runUs: summary(inst.run), gatewayUs: summary(gw) })
      }
    }

    const t = summary(transpile)
    console.log(`\nwasi:http components against core modules (${CALLS} calls each, p50 / p99; ${os.cpus().length} cpus, node ${process.version})\n`)
    console.log(`jco transpile of http-echo.wasm (helper process, start included): ${t.p50.toFixed(0)} ms (n=${t.n}, max ${Math.max(...transpile).toFixed(0)} ms)`)
    for (const [what, ms] of Object.entries(deployMs)) console.log(`deploy of ${what}: ${ms.toFixed(0)} ms`)
    console.log('')
    const header = ['function', 'bytes', 'tier', 'instantiate µs', 'run µs', 'gateway call µs']
    const lines = rows.map((r) => [String(r.function), String(r.bytes), String(r.tier), fmt(r.instantiateUs as never, 1), fmt(r.runUs as never, 1), fmt(r.gatewayUs as never)])
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
    for (const l of [header, widths.map((w) => '-'.repeat(w)), ...lines]) console.log(l.map((c, i) => c.padEnd(widths[i]!)).join('  '))

    const resultsDir = path.join(REPO_ROOT, 'bench', 'results')
    fs.mkdirSync(resultsDir, { recursive: true })
    const file = path.join(resultsDir, `component-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    fs.writeFileSync(file, JSON.stringify({ calls: CALLS, jsCalls: JS_CALLS, node: process.version, cpus: os.cpus().length, transpileMs: transpile, deployMs, rows }, null, 2))
    console.log(`\nresults: ${path.relative(process.cwd(), file)}`)
  } finally {
    await k.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

/** templates/js written and built by the CLI, as a user would: kindling new x --lang js && kindling build */
async function buildJsTemplate(dir: string): Promise<string> {
  const stack = path.join(dir, 'stack.yml')
  const cli = (...args: string[]) => execFileSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'kindling.js'), ...args, '-f', stack], { stdio: ['ignore', 'ignore', 'inherit'] })
  cli('new', 'js-fetch', '--lang', 'js')
  cli('build')
  return path.join(dir, 'js-fetch', 'build', 'js-fetch.wasm')
}

await main()
