// Container tier cold starts, measured in one run with every case interleaved (each iteration runs
// every case once, in random order, so background load hits all alike; iteration 0 is a warm-up):
//
//   raw `crun run` of the function's own bundle  vs  kindling one-shot (spawn + invoke)
//   kindling create-ahead start (container created before the call; invoke only)
//   HTTP mode: cold (spawn -> ready -> first response), warm call, freezer pause, paused -> resume -> response
//   runc: raw `runc run` and kindling on runc; runsc, podman, docker when installed (else a printed reason)
//
// for a busybox function (functions/alpine, fprocess "tr a-z A-Z") and a node function
// (functions/container/node-classic). Prints a table (median, p99, n, ratio to raw crun run) and
// writes JSON to bench/results/.
//
// usage: node --import tsx bench/container/coldstart.ts [--quick] [--n N] [--no-engines] [--out FILE]
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildNodeImage, type ClassicSandbox, type ContainerTier, createContainerTier, type FunctionArtifact, type HttpSandbox, type InvokeRequest, type TierContext, which } from '../../isolation/index.js'
import { loadConfig, tierSettings } from '../../runtime/index.js'
import { type Engine, runscAvailable, startDocker, startPodman } from './engines.js'
import { shuffle, summarise } from './stats.js'

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const nArg = args.indexOf('--n')
const N = nArg >= 0 ? Number(args[nArg + 1]) : quick ? 15 : 100
const engines = !args.includes('--no-engines')
const outArg = args.indexOf('--out')

const INPUT = 'hello function\n'
const never = new AbortController().signal
const log = (s: string) => process.stderr.write(s + '\n')

if (process.getuid?.() !== 0 || !which('crun')) {
  console.log('skipped: the container benchmark needs root and crun (apt-get install crun busybox-static)')
  process.exit(0)
}

// ---------------------------------------------------------------- setup
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-bench-ctr-'))
const ctxFor = (stateName: string): TierContext => {
  const stateDir = path.join(work, 'tiers', stateName)
  fs.mkdirSync(stateDir, { recursive: true })
  return {
    stateDir,
    dataDir: work,
    settings: { ...tierSettings(loadConfig({})), execTimeoutMs: 30_000, timeoutGraceMs: 250, memoryMiB: 256, maxBodyBytes: 16 << 20, interruptFuel: 4096, appHostHeapMiB: 1024, spareAppHosts: 0 },
    readSecret: () => undefined,
    log: () => {},
  }
}
// pauseIdleMs 0: the benchmark pauses explicitly, so timings never race an idle timer
const tier = createContainerTier(ctxFor('container'), { runtime: 'crun', pauseIdleMs: 0 })
if (tier.unavailableReason()) {
  console.log(`skipped: ${tier.unavailableReason()}`)
  process.exit(0)
}
const runcTier: ContainerTier | string = which('runc') ? createContainerTier(ctxFor('container-runc'), { runtime: 'runc', pauseIdleMs: 0 }) : 'runc is not installed (apt-get install runc)'
buildNodeImage(tier.images, { ref: 'bench/node-classic:1', add: [[path.join(REPO, 'functions/container/node-classic'), '/home/app']], link: true })
buildNodeImage(tier.images, { ref: 'bench/node-http:1', add: [[path.join(REPO, 'functions/container/node-http'), '/home/app']], link: true })

let version = 0
const fn = (name: string, image: string, fprocess: string, envVars: Record<string, string> = {}): FunctionArtifact => ({
  key: `${name}.openfaas-fn`, name, namespace: 'openfaas-fn', version: String(++version), app: name, kind: 'oci-image', image, envProcess: fprocess,
  envVars, labels: {}, annotations: {}, secrets: [], memoryBytes: 256 << 20, cpuCores: 0, timeoutMs: 30_000,
  stateMode: envVars['mode'] === 'http' ? 'reuse' : 'fresh', container: { readOnlyRootFilesystem: true },
})
const FUNCS = {
  bb: fn('bb', 'functions/alpine:latest', 'tr a-z A-Z'),
  node: fn('node', 'bench/node-classic:1', 'node /home/app/handler.mjs'),
}
const req = (): InvokeRequest => ({ callId: 'b', method: 'POST', path: '/', query: '', headers: { 'content-type': 'text/plain' }, body: Buffer.from(INPUT), deadline: Date.now() + 30_000 })
const expectOut = { bb: 'HELLO FUNCTION', node: '"upper":"HELLO FUNCTION' }
const check = (what: string, k: 'bb' | 'node', out: string) => {
  if (!out.includes(expectOut[k])) throw new Error(`${what}: unexpected output ${JSON.stringify(out.slice(0, 300))}`)
}

const prepared = { bb: await tier.prepare(FUNCS.bb), node: await tier.prepare(FUNCS.node) }
const preparedRunc =
  typeof runcTier === 'string' ? undefined : { bb: await runcTier.prepare(FUNCS.bb), node: await runcTier.prepare(FUNCS.node) }
const httpPrepared = await tier.prepare(fn('web', 'bench/node-http:1', 'node /home/app/server.mjs', { mode: 'http' }))

/** The function's own bundle (kindling's template: fprocess run directly, same rootfs, namespaces and limits). */
const bundles = { bb: prepared.bb.plan.templateDir, node: prepared.node.plan.templateDir }
// runsc: same bundle without the pids limit (with ptrace every guest task is a host task; a limit kills the sandbox)
const runscBundles: Record<string, string> = {}
for (const k of ['bb', 'node'] as const) {
  const dir = path.join(work, `runsc-${k}`)
  fs.mkdirSync(dir, { recursive: true })
  const spec = JSON.parse(fs.readFileSync(path.join(bundles[k], 'config.json'), 'utf8')) as { linux: { resources: Record<string, unknown>; cgroupsPath?: string } }
  delete spec.linux.resources['pids']
  delete spec.linux.cgroupsPath
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec))
  runscBundles[k] = dir
}

let seq = 0
const rawId = (p: string) => `kbench-${process.pid}-${p}-${seq++}`
function runCli(cmd: string, argv: string[], input: string): Promise<{ ms: number; out: string; err: string; code: number | null }> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const p = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.stdin.on('error', () => {})
    p.stdin.end(input)
    p.on('close', (code) => resolve({ ms: performance.now() - t0, out, err, code }))
  })
}

// ---------------------------------------------------------------- cases
type Result = number | Record<string, number>
interface Case {
  name: string
  group: 'busybox' | 'node' | 'http'
  every: number
  run: () => Promise<Result>
}
const cases: Case[] = []
const add = (group: Case['group'], name: string, run: () => Promise<Result>, every = 1) => cases.push({ name, group, every, run })
const skipped: string[] = []
const note = (s: string) => {
  skipped.push(s)
  console.log(`skipping ${s}`)
}

for (const k of ['bb', 'node'] as const) {
  const group = k === 'bb' ? 'busybox' : 'node'
  add(group, 'raw crun run (same bundle)', async () => {
    const r = await runCli('crun', ['run', '--bundle', bundles[k], rawId('crun')], INPUT)
    check('crun run', k, r.out + r.err)
    return r.ms
  })
  add(group, 'kindling one-shot (spawn+invoke)', async () => {
    const t0 = performance.now()
    const sb = await tier.spawn(prepared[k], { sandboxId: 'oneshot' })
    const r = await sb.invoke(req(), never)
    const ms = performance.now() - t0
    check('one-shot', k, r.body.toString())
    const t1 = performance.now()
    await sb.dispose('replaced')
    return { '': ms, 'dispose, off the critical path': performance.now() - t1 }
  })
  add(group, 'kindling create-ahead start (invoke)', async () => {
    const sb = (await tier.spawn(prepared[k], { sandboxId: 'ahead' })) as ClassicSandbox
    await new Promise((r) => setTimeout(r, 10))
    const t0 = performance.now()
    const r = await sb.invoke(req(), never)
    const ms = performance.now() - t0
    check('create-ahead', k, r.body.toString())
    await sb.dispose('replaced')
    return { '': ms, 'crun create, ahead of the call': sb.startup.spawnUs / 1000 }
  })
  if (typeof runcTier === 'string') note(`runc: ${runcTier}`)
  else {
    add(group, 'raw runc run (same bundle)', async () => {
      const r = await runCli(runcTier.runtime!.bin, ['run', '--bundle', bundles[k], rawId('runc')], INPUT)
      check('runc run', k, r.out + r.err)
      return r.ms
    })
    add(group, 'kindling on runc one-shot', async () => {
      const t0 = performance.now()
      const sb = await runcTier.spawn(preparedRunc![k], { sandboxId: 'runc' })
      const r = await sb.invoke(req(), never)
      const ms = performance.now() - t0
      check('runc one-shot', k, r.body.toString())
      await sb.dispose('replaced')
      return ms
    })
  }
}

// HTTP mode (node server): cold start, warm call, pause, paused -> resume
add('http', 'HTTP cold: spawn -> ready -> first response', async () => {
  const t0 = performance.now()
  const sb = await tier.spawn(httpPrepared, { sandboxId: 'httpcold' })
  const ready = performance.now() - t0
  const r = await sb.invoke(req(), never)
  const ms = performance.now() - t0
  if (r.status !== 200) throw new Error(`http cold: ${r.status} ${r.body.toString()}`)
  await sb.dispose('replaced')
  return { '': ms, 'spawn -> ready': ready }
})
const warmHttp = (await tier.spawn(httpPrepared, { sandboxId: 'httpwarm' })) as HttpSandbox
add('http', 'HTTP warm call (reused container)', async () => {
  const t0 = performance.now()
  const r = await warmHttp.invoke(req(), never)
  if (r.status !== 200) throw new Error(`http warm: ${r.status}`)
  return performance.now() - t0
})
add('http', 'HTTP paused -> resume -> response', async () => {
  const tp = performance.now()
  await warmHttp.pause()
  const pauseMs = performance.now() - tp
  if (!warmHttp.isPaused) throw new Error('did not pause')
  await new Promise((r) => setTimeout(r, 10))
  const t0 = performance.now()
  const r = await warmHttp.invoke(req(), never)
  const ms = performance.now() - t0
  if (r.status !== 200) throw new Error(`http resume: ${r.status}`)
  return { '': ms, 'of which thaw': warmHttp.lastResumeUs / 1000, 'freezer pause (idle, off the critical path)': pauseMs }
})

// engines: every 2nd iteration, they are slow
const opened: Engine[] = []
if (engines) {
  const tars = { bb: path.join(work, 'bb.tar'), node: path.join(work, 'node.tar') }
  const why = runscAvailable()
  if (why) note(`runsc: ${why}`)
  else {
    for (const k of ['bb', 'node'] as const) {
      add(k === 'bb' ? 'busybox' : 'node', 'runsc run (ptrace, same bundle)', async () => {
        const r = await runCli(which('runsc')!, ['--network=none', 'run', '--bundle', runscBundles[k]!, rawId('runsc')], INPUT)
        check('runsc', k, r.out + r.err)
        return r.ms
      }, 2)
    }
  }
  if (which('podman') || which('dockerd')) {
    execFileSync('tar', ['-C', prepared.bb.plan.image.rootfs, '-cf', tars.bb, '.'])
    execFileSync('tar', ['-C', prepared.node.plan.image.rootfs, '-cf', tars.node, '.'])
  }
  for (const [label, start] of [['podman', () => startPodman(tars)], ['docker', () => startDocker(tars, work)]] as const) {
    const e = await start()
    if (typeof e === 'string') {
      note(`${label}: ${e}`)
      continue
    }
    opened.push(e)
    for (const k of ['bb', 'node'] as const) {
      const cmd = prepared[k].plan.argv // fprocess with its program resolved in the image
      add(k === 'bb' ? 'busybox' : 'node', `${e.name} run --rm -i --network none`, async () => {
        const r = await e.run(k, cmd, INPUT)
        check(e.name, k, r.out + r.err)
        return r.ms
      }, 2)
    }
  }
} else note('runsc, podman, docker: --no-engines')

// ---------------------------------------------------------------- run
const data = new Map<string, number[]>()
const put = (k: string, v: number) => (data.get(k) ?? data.set(k, []).get(k)!).push(v)
const loads: number[] = []
const t0 = Date.now()
log(`container cold-start benchmark: ${N} iterations (+1 warm-up), ${cases.length} cases, interleaved`)
try {
  for (let i = 0; i <= N; i++) {
    for (const c of shuffle(cases.filter((c) => i % c.every === 0))) {
      const r = await c.run()
      if (i === 0) continue
      if (typeof r === 'number') put(`${c.group}|${c.name}`, r)
      else for (const [sub, v] of Object.entries(r)) put(`${c.group}|${sub ? `${c.name}: ${sub}` : c.name}`, v)
    }
    loads.push(os.loadavg()[0]!)
    if (i % 10 === 0) log(`  iteration ${i}/${N}, ${((Date.now() - t0) / 1000).toFixed(0)} s, load ${os.loadavg()[0]!.toFixed(2)}`)
  }
} finally {
  await warmHttp.dispose('shutdown').catch(() => {})
  for (const e of opened) await e.close().catch(() => {})
  await tier.close()
  if (typeof runcTier !== 'string') await runcTier.close()
  process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }))
}

// ---------------------------------------------------------------- report
interface Row { group: string; case: string; n: number; medianMs: number; p99Ms: number; minMs: number; maxMs: number; ratioToRawCrun: number | null }
const rows: Row[] = []
const baseline = (group: string) => data.get(`${group}|raw crun run (same bundle)`)
for (const [k, v] of data) {
  const [group, name] = k.split('|') as [string, string]
  const s = summarise(v)
  const base = baseline(group)
  const comparable = base && !name.includes(': ') && group !== 'http'
  rows.push({ group, case: name, n: s.n, medianMs: s.median, p99Ms: s.p99, minMs: s.min, maxMs: s.max, ratioToRawCrun: comparable ? s.median / summarise(base).median : null })
}
const order = ['busybox', 'node', 'http']
rows.sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group) || a.medianMs - b.medianMs)
const w = Math.max(...rows.map((r) => r.case.length))
console.log(`\n${'group'.padEnd(8)} ${'case'.padEnd(w)} ${'n'.padStart(4)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(8)} ${'x raw crun'.padStart(10)}`)
for (const r of rows) {
  console.log(`${r.group.padEnd(8)} ${r.case.padEnd(w)} ${String(r.n).padStart(4)} ${r.medianMs.toFixed(2).padStart(10)} ${r.p99Ms.toFixed(2).padStart(8)} ${(r.ratioToRawCrun === null ? '' : r.ratioToRawCrun.toFixed(2)).padStart(10)}`)
}
const find = (g: string, c: string) => rows.find((r) => r.group === g && r.case === c)
const targets = [
  { target: 'busybox one-shot <= 1.3x raw crun run', value: find('busybox', 'kindling one-shot (spawn+invoke)')?.ratioToRawCrun ?? NaN, limit: 1.3 },
  { target: 'node one-shot <= 1.3x raw crun run', value: find('node', 'kindling one-shot (spawn+invoke)')?.ratioToRawCrun ?? NaN, limit: 1.3 },
  { target: 'busybox create-ahead start p50 < 10 ms', value: find('busybox', 'kindling create-ahead start (invoke)')?.medianMs ?? NaN, limit: 10 },
].map((t) => ({ ...t, holds: t.value <= t.limit }))
console.log('\ntargets (same-run ratios):')
for (const t of targets) console.log(`  ${t.holds ? 'holds' : 'MISSED'}  ${t.target}: ${t.value.toFixed(2)}`)
if (skipped.length) console.log(`\nskipped: ${skipped.join('; ')}`)
const ls = [...loads].sort((a, b) => a - b)
console.log(`load average (1 min) per iteration: median ${ls[ls.length >> 1]?.toFixed(2)}, max ${ls[ls.length - 1]?.toFixed(2)}`)

const versionOf = (cmd: string, a: string[]) => {
  try {
    return execFileSync(cmd, a, { encoding: 'utf8' }).split('\n')[0]!.trim()
  } catch {
    return null
  }
}
const resultsDir = path.join(REPO, 'bench/results')
fs.mkdirSync(resultsDir, { recursive: true })
const out = outArg >= 0 ? path.resolve(args[outArg + 1]!) : path.join(resultsDir, `container-coldstart-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      benchmark: 'container-coldstart',
      command: `node --import tsx bench/container/coldstart.ts ${args.join(' ')}`.trim(),
      date: new Date().toISOString(),
      iterations: N,
      environment: {
        node: process.version,
        kernel: os.release(),
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memoryMiB: Math.round(os.totalmem() / 1048576),
        crun: versionOf('crun', ['--version']),
        runc: which('runc') ? versionOf(which('runc')!, ['--version']) : null,
        probeNotes: tier.probeNotes,
        loadAverage: { median: ls[ls.length >> 1], max: ls[ls.length - 1] },
      },
      skipped,
      rows,
      targets,
    },
    null,
    2,
  ) + '\n',
)
console.log(`results: ${path.relative(process.cwd(), out)}`)
