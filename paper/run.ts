// The reproduction report: `npm run paper [-- --quick] [--only R1,R7] [--render]`.
// Runs each experiment (paper/experiments), writes what it measured to results.json and renders
// report.md and the figures (SVG) beside it: paper/ for a full run, paper/quick/ for --quick (CI
// checks the pipeline end to end with it). --render re-renders from results.json without measuring.
// Run from dist/ (npm run paper builds it) so that app hosts start without a TypeScript loader.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import '../bench/lib/children.js'
import { type EnvironmentRecord, environmentRecord } from '../bench/lib/env.js'
import { createProgress } from '../bench/lib/progress.js'
import { locateScope, SCOPES } from '../bench/lib/registry.js'
import { emptyResult, type ScopeContext, type ScopeResult, type ScopeRun } from '../bench/lib/scope.js'
import { REPO_ROOT } from '../runtime/index.js'
import { headline } from './experiments/headline.js'
import { removeNoisyEnv } from './environment.js'
import { EXPERIMENTS } from './experiments/index.js'
import type { ExperimentData, PaperContext } from './experiments/types.js'
import { toSvg } from './report/figures.js'
import { otherBenchmarks } from './report/others.js'
import { machineLine, renderContext, renderReport } from './report/report.js'
import { parseFlags } from '../bench/lib/flags.js'
import { stopOnInterrupt } from '../bench/lib/interrupt.js'

/** --quick must finish within a few minutes on a quiet machine: experiments stop early past this. */
const QUICK_BUDGET_MS = 150_000

export interface PaperArgs {
  quick: boolean
  render: boolean
  only: string[] | undefined
  outDir: string
  options: Record<string, string | boolean>
}

export function parsePaperArgs(argv: readonly string[], repoRoot: string): PaperArgs {
  const { options, take } = parseFlags(argv)
  const quick = take('quick') === true
  const render = take('render') === true
  const onlyArg = take('only')
  const only = typeof onlyArg === 'string' ? onlyArg.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean) : undefined
  for (const id of only ?? []) if (!EXPERIMENTS.some((e) => e.id === id)) throw new Error(`unknown experiment ${id}; experiments: ${EXPERIMENTS.map((e) => e.id).join(', ')}`)
  const out = take('out')
  const outDir = typeof out === 'string' ? path.resolve(out) : path.join(repoRoot, 'paper', quick ? 'quick' : '')
  return { quick, render, only, outDir, options }
}

interface ResultsFile {
  kind: 'kindling-paper'
  version: 1
  quick: boolean
  command: string
  environment: EnvironmentRecord
  seconds: number
  load: { before: number; max: number; after: number }
  /** other benchmarks seen running on the machine during the run */
  others?: string[]
  experiments: ExperimentData[]
}

/** Runs a bench scope module (bench/scopes/<name> or a folder's scope.ts) with a context of ours. */
async function runScope(name: string, base: Omit<ScopeContext, 'scope'>): Promise<ScopeResult> {
  const info = SCOPES.find((s) => s.name === name)
  if (!info) return emptyResult(name, 'not-available', `no scope ${name}`)
  const codeRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
  const where = locateScope(info, base.repoRoot, codeRoot)
  if (where.kind !== 'module') return emptyResult(name, 'not-available', where.kind === 'missing' ? where.reason : 'only a stand-alone script')
  const mod = (await import(pathToFileURL(where.file).href)) as { run?: ScopeRun }
  if (typeof mod.run !== 'function') return emptyResult(name, 'not-available', `${where.file} does not export run(ctx)`)
  try {
    return await mod.run({ ...base, scope: name })
  } catch (e) {
    return emptyResult(name, 'failed', (e as Error).stack ?? String(e))
  }
}

/**
 * Puts the later repetitions of the suite beside the first: each row of the first gets the median
 * of the same row in every repetition (`runs`), which the tables show as the spread between runs.
 */
export function mergeRepetitions(first: ExperimentData, later: readonly ExperimentData[]): void {
  if (!later.length) return
  for (const row of first.rows) {
    const runs = [row.p50]
    for (const d of later) {
      const same = d.rows.find((r) => r.key === row.key)
      if (same && Number.isFinite(same.p50)) runs.push(same.unit === row.unit ? same.p50 : same.unit === 'ms' && row.unit === 'us' ? same.p50 * 1000 : same.unit === 'us' && row.unit === 'ms' ? same.p50 / 1000 : NaN)
    }
    if (runs.length > 1) row.runs = runs
  }
  first.method.push(`${later.length + 1} repetitions of the whole suite: medians, intervals and p99 are from the first; "runs a–b" is the range of the medians of the ${later.length + 1} repetitions (each with its own start-up of everything)`)
}

async function writeReport(file: ResultsFile, outDir: string): Promise<{ report: string; figures: string[] }> {
  const rc = renderContext(file.environment, file.quick)
  const experiments = []
  const figures: string[] = []
  const figDir = path.join(outDir, 'figures')
  fs.mkdirSync(figDir, { recursive: true })
  // experiments added after the results were measured get a stub that says how to measure them
  const missing = EXPERIMENTS.filter((e) => !file.experiments.some((d) => d.id === e.id)).map((e): ExperimentData => ({ id: e.id, status: 'skipped', reason: `not in this results file (the experiment is newer than the run); \`npm run paper -- --only ${e.id}\` measures it`, rows: [], method: [], notes: [], skipped: [] }))
  const all = file.quick || !missing.length ? file.experiments : [...file.experiments, ...missing].sort((a, b) => EXPERIMENTS.findIndex((e) => e.id === a.id) - EXPERIMENTS.findIndex((e) => e.id === b.id))
  for (const data of all) {
    const exp = EXPERIMENTS.find((e) => e.id === data.id)
    if (!exp) continue
    let section
    try {
      section = data.status === 'failed' && !data.rows.length ? { markdown: '', figures: [] } : exp.render(data, rc)
    } catch (e) {
      section = { markdown: `(rendering failed: ${(e as Error).message})`, figures: [] }
    }
    for (const f of section.figures) {
      fs.writeFileSync(path.join(figDir, f.file), await toSvg(f.spec))
      figures.push(f.file)
    }
    experiments.push({ exp, data, section })
  }
  const report = renderReport({ env: file.environment, quick: file.quick, seconds: file.seconds, load: file.load, others: file.others, experiments, headline: headline(file.experiments.find((d) => d.id === 'R1')), command: file.command })
  const reportFile = path.join(outDir, 'report.md')
  fs.writeFileSync(reportFile, report)
  return { report: reportFile, figures }
}

async function main(): Promise<number> {
  const args = parsePaperArgs(process.argv.slice(2), REPO_ROOT)
  fs.mkdirSync(args.outDir, { recursive: true })
  const resultsFile = path.join(args.outDir, 'results.json')
  if (args.render) {
    const file = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as ResultsFile
    const w = await writeReport(file, args.outDir)
    process.stdout.write(`rendered ${path.relative(process.cwd(), w.report)} and ${w.figures.length} figure(s) from ${path.relative(process.cwd(), resultsFile)}\n`)
    return 0
  }
  removeNoisyEnv()
  const command = `npm run paper${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
  const env = environmentRecord(REPO_ROOT, command)
  const started = Date.now()
  const deadline = args.quick ? started + QUICK_BUDGET_MS : Infinity
  const interrupted = stopOnInterrupt()
  const load = { before: os.loadavg()[0]!, max: os.loadavg()[0]!, after: 0 }
  const others = new Set<string>(otherBenchmarks())
  const loadTimer = setInterval(() => {
    load.max = Math.max(load.max, os.loadavg()[0]!)
    for (const o of otherBenchmarks()) others.add(o)
  }, 5000)
  loadTimer.unref()
  const sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-paper-'))
  let shared = new Map<string, Promise<unknown>>()
  let scopes = new Map<string, Promise<ScopeResult>>()
  let scopeDirs = 0
  const atEnd: (() => Promise<unknown>)[] = []
  let cleaned: Promise<void> | undefined
  const cleanup = () =>
    (cleaned ??= (async () => {
      for (const fn of atEnd.reverse()) await fn().catch((e: Error) => process.stderr.write(`cleanup: ${e.message}\n`))
      fs.rmSync(sharedDir, { recursive: true, force: true })
      clearInterval(loadTimer)
    })())
  // stopped from outside: stop the containers, engines and processes started so far, then exit
  process.once('SIGTERM', () => void cleanup().finally(() => process.exit(143)))
  const selected = EXPERIMENTS.filter((e) => !args.only || args.only.includes(e.id))
  // a rerun of some experiments keeps the others' results of the last full run
  const previous: ExperimentData[] = args.only && fs.existsSync(resultsFile) ? ((JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as ResultsFile).experiments ?? []) : []
  process.stderr.write(`kindling paper: ${selected.map((e) => e.id).join(', ')}${args.quick ? ' (quick)' : ''}\n`)
  const suiteRepeats = Math.max(1, Number(args.options['suite-repeats'] ?? (args.quick ? 1 : 3)))
  const results: ExperimentData[] = []
  /** later repetitions of the suite, by experiment id */
  const repeats = new Map<string, ExperimentData[]>()
  try {
    for (let rep = 0; rep < suiteRepeats; rep++) {
      if (rep > 0) {
        // a new repetition measures again: only the container kit (images, bundles, engines) is kept
        const kit = shared.get('containers')
        shared = new Map(kit ? [['containers', kit]] : [])
        scopes = new Map()
        process.stderr.write(`kindling paper: repetition ${rep + 1} of ${suiteRepeats} of the suite\n`)
      }
      for (const exp of selected) {
        if (interrupted()) break
        if (rep > 0 && exp.suiteRepeat === false) continue
        const progress = createProgress(exp.id)
        const workDir = path.join(sharedDir, rep ? `${exp.id}-${rep + 1}` : exp.id)
        fs.mkdirSync(workDir, { recursive: true })
        const shouldStop = () => interrupted() || Date.now() > deadline
        const ctx: PaperContext = {
          quick: args.quick,
          repoRoot: REPO_ROOT,
          distRoot: path.join(REPO_ROOT, 'dist'),
          workDir,
          sharedDir,
          options: args.options,
          progress,
          log: (m) => process.stderr.write(`[${exp.id}] ${m}\n`),
          shouldStop,
          atEnd: (fn) => atEnd.push(fn),
          shared: <T>(key: string, make: () => Promise<T>) => {
            if (!shared.has(key)) shared.set(key, make())
            return shared.get(key) as Promise<T>
          },
          scope: (name, options = {}) => {
            const key = `${name} ${JSON.stringify(options)}`
            if (!scopes.has(key)) {
              const dir = path.join(sharedDir, `scope-${name}-${scopeDirs++}`)
              fs.mkdirSync(dir, { recursive: true })
              progress.step(`bench scope ${name} ${Object.entries(options).map(([k, v]) => `--${k} ${v}`).join(' ')}`)
              scopes.set(key, runScope(name, { quick: args.quick, repoRoot: REPO_ROOT, distRoot: path.join(REPO_ROOT, 'dist'), resultsDir: dir, workDir: dir, options, progress, log: ctx.log, shouldStop }))
            }
            return scopes.get(key)!
          },
        }
        const t0 = Date.now()
        const before = os.loadavg()[0]!
        let data: ExperimentData
        try {
          data = await exp.run(ctx)
        } catch (e) {
          data = { id: exp.id, status: 'failed', reason: ((e as Error).stack ?? String(e)).split('\n').slice(0, 4).join(' '), rows: [], method: [], notes: [], skipped: [] }
        }
        progress.done()
        data.seconds = (Date.now() - t0) / 1000
        data.machine = machineLine(env)
        data.loadAverage = { before: +before.toFixed(2), after: +os.loadavg()[0]!.toFixed(2) }
        if (rep === 0) results.push(data)
        else repeats.set(exp.id, [...(repeats.get(exp.id) ?? []), data])
        process.stderr.write(`[${exp.id}] ${data.status}${data.reason ? `: ${data.reason.slice(0, 300)}` : ''} (${data.seconds.toFixed(0)} s, ${data.rows.length} rows)\n`)
      }
    }
    for (const r of results) mergeRepetitions(r, repeats.get(r.id) ?? [])
  } finally {
    await cleanup()
  }
  load.after = os.loadavg()[0]!
  const merged = [...results, ...previous.filter((p) => !results.some((r) => r.id === p.id))].sort((a, b) => EXPERIMENTS.findIndex((e) => e.id === a.id) - EXPERIMENTS.findIndex((e) => e.id === b.id))
  const seconds = (Date.now() - started) / 1000
  const file: ResultsFile = { kind: 'kindling-paper', version: 1, quick: args.quick, command, environment: env, seconds, load, others: [...others], experiments: merged }
  fs.writeFileSync(resultsFile, JSON.stringify(file, null, 1) + '\n')
  const w = await writeReport(file, args.outDir)
  const failed = results.filter((r) => r.status === 'failed')
  process.stdout.write(`${results.map((r) => `${r.id} ${r.status}`).join(', ')}\nwrote ${path.relative(process.cwd(), w.report)}, ${w.figures.length} figure(s) and ${path.relative(process.cwd(), resultsFile)} in ${seconds.toFixed(0)} s (load average max ${load.max.toFixed(2)})\n`)
  if (args.quick && seconds > 180) process.stdout.write(`warning: the quick run took ${seconds.toFixed(0)} s (it should stay under 3 minutes)\n`)
  if (failed.length) process.stdout.write(`failed: ${failed.map((r) => `${r.id} (${r.reason?.slice(0, 200)})`).join('; ')}\n`)
  return failed.length ? 1 : 0
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`${e.stack ?? e.message}\n`)
      process.exit(2)
    },
  )
}
