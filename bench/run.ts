// kindling's benchmark runner: `npm run bench -- --scope coldstart,load [--quick] [--flag value ...]`.
// Runs each scope (bench/lib/registry.ts lists them), prints a table per scope with progress on
// stderr while it runs, and writes JSON, CSV, the environment record and the printed report under
// bench/results/. Run it from dist/ (npm run build first; the npm scripts do) so that app hosts
// start without a TypeScript loader. Exit code 1 when a scope failed (not when a target is missed,
// unless --strict).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { environmentLine, environmentRecord } from './lib/env.js'
import { parseFlags } from './lib/flags.js'
import { stopOnInterrupt } from './lib/interrupt.js'
import './lib/children.js'
import { createProgress } from './lib/progress.js'
import { locateScope, SCOPES } from './lib/registry.js'
import { type RunRecord, writeResults } from './lib/results.js'
import { emptyResult, type ScopeContext, type ScopeResult, type ScopeRun } from './lib/scope.js'
import { runScripts } from './lib/script-scope.js'
import { renderTable, scopeReport } from './lib/table.js'
import { REPO_ROOT } from '../runtime/index.js'

/** The quick mode's whole budget: CI runs it, and it must stay under a minute. */
const QUICK_BUDGET_MS = 50_000

interface Args {
  scopes: string[]
  quick: boolean
  strict: boolean
  list: boolean
  resultsDir: string
  label: string | undefined
  options: Record<string, string | boolean>
}

export function parseArgs(argv: readonly string[]): Args {
  const { options, take } = parseFlags(argv)
  const scopeArg = take('scope')
  const known = SCOPES.map((s) => s.name)
  const scopes = scopeArg === undefined || scopeArg === true || scopeArg === 'all' ? known : String(scopeArg).split(',').map((s) => s.trim()).filter(Boolean)
  for (const s of scopes) if (!known.includes(s)) throw new Error(`unknown scope ${s}; scopes: ${known.join(', ')}`)
  const resultsDir = take('results-dir')
  const label = take('label')
  return {
    scopes,
    quick: take('quick') === true,
    strict: take('strict') === true,
    list: take('list') === true,
    resultsDir: typeof resultsDir === 'string' ? path.resolve(resultsDir) : path.join(REPO_ROOT, 'bench', 'results'),
    label: typeof label === 'string' ? label : undefined,
    options,
  }
}

async function runScope(name: string, base: Omit<ScopeContext, 'scope' | 'progress'>): Promise<ScopeResult> {
  const info = SCOPES.find((s) => s.name === name)!
  const progress = createProgress(name)
  const ctx: ScopeContext = { ...base, scope: name, progress }
  const codeRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
  const where = locateScope(info, base.repoRoot, codeRoot)
  const t0 = Date.now()
  let result: ScopeResult
  try {
    if (where.kind === 'missing') result = emptyResult(name, 'not-available', where.reason)
    else if (where.kind === 'scripts') {
      // a stand-alone script cannot be told to stay inside the quick budget
      result = base.quick
        ? emptyResult(name, 'skipped', `--quick runs only scopes with bench/${name}/scope.ts exporting run(ctx); ${where.files.map((f) => path.relative(base.repoRoot, f.file)).join(', ')} run in full mode`)
        : await runScripts(ctx, where.files, 3_600_000)
    }
    else {
      const mod = (await import(pathToFileURL(where.file).href)) as { run?: ScopeRun }
      if (typeof mod.run !== 'function') result = emptyResult(name, 'not-available', `${path.relative(base.repoRoot, where.file)} does not export run(ctx)`)
      else result = await mod.run(ctx)
    }
  } catch (e) {
    result = emptyResult(name, 'failed', (e as Error).stack ?? String(e))
  }
  progress.done()
  result.scope = name
  result.seconds = (Date.now() - t0) / 1000
  return result
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  if (args.list) {
    console.log(renderTable(['scope', 'what it measures'], SCOPES.map((s) => [s.name, s.about]), ['l', 'l']))
    return 0
  }
  const command = process.argv.length > 2 ? `npm run bench -- ${process.argv.slice(2).join(' ')}` : 'npm run bench'
  const env = environmentRecord(REPO_ROOT, command)
  const started = Date.now()
  const budgetEnd = args.quick ? started + QUICK_BUDGET_MS : Infinity
  const interrupted = stopOnInterrupt()
  // stopped from outside: the 'exit' hook of lib/children.ts ends every process the run started
  process.once('SIGTERM', () => process.exit(143))
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-bench-'))
  process.stderr.write(`kindling bench: ${args.scopes.join(', ')}${args.quick ? ' (quick)' : ''}\n${environmentLine(env)}\n`)
  const results: ScopeResult[] = []
  try {
    for (const name of args.scopes) {
      if (interrupted()) break
      const scopeStart = Date.now()
      // in quick mode each scope gets an equal share of what is left, so one slow scope cannot starve the rest
      const left = args.scopes.length - results.length
      const scopeEnd = args.quick ? scopeStart + (budgetEnd - scopeStart) / left : Infinity
      const base = {
        quick: args.quick,
        repoRoot: REPO_ROOT,
        distRoot: path.join(REPO_ROOT, 'dist'),
        resultsDir: args.resultsDir,
        workDir: path.join(workDir, name),
        options: args.options,
        log: (m: string) => process.stderr.write(`[${name}] ${m}\n`),
        shouldStop: () => interrupted() || Date.now() > scopeEnd,
      }
      fs.mkdirSync(base.workDir, { recursive: true })
      const loadBefore = os.loadavg()
      const r = await runScope(name, base)
      // other work on the machine shows in the numbers: keep the 1-minute load around each scope
      r.loadAverage = { before: +loadBefore[0]!.toFixed(2), after: +os.loadavg()[0]!.toFixed(2) }
      results.push(r)
      process.stdout.write(`\n${scopeReport(r)}\n`)
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true })
  }
  const seconds = (Date.now() - started) / 1000
  const label = args.label ?? `${args.scopes.length === SCOPES.length ? 'all' : args.scopes.join('+')}${args.quick ? '-quick' : ''}`
  const record: RunRecord = { kind: 'kindling-bench', version: 1, label, quick: args.quick, environment: env, scopes: results, seconds }
  const report = [`command: ${command}`, environmentLine(env), ...results.map(scopeReport)].join('\n\n')
  const files = writeResults(args.resultsDir, record, report)
  const missed = results.flatMap((r) => r.targets.filter((t) => !t.holds))
  const failed = results.filter((r) => r.status === 'failed')
  process.stdout.write(`\n${results.length} scope(s) in ${seconds.toFixed(0)} s; targets: ${results.reduce((n, r) => n + r.targets.filter((t) => t.holds).length, 0)} hold, ${missed.length} missed; results: ${path.relative(process.cwd(), files.json)} (+ .csv, .env.json, .txt; ${label}-latest.*)\n`)
  if (args.quick && seconds > 60) process.stdout.write(`warning: the quick run took ${seconds.toFixed(0)} s (its budget is 60 s)\n`)
  if (failed.length) process.stdout.write(`failed: ${failed.map((r) => r.scope).join(', ')}\n`)
  return failed.length || (args.strict && missed.length) ? 1 : 0
}

// run only as the entry point, so that tests can import parseArgs
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`${e.stack ?? e.message}\n`)
      process.exit(2)
    },
  )
}
