// R11 (SOCK ATC'18, §4): the import cache. A handler that imports heavy libraries pays for the
// imports on every cold start unless the runtime starts from a state that already has them:
// SOCK forks "Zygote" processes that imported them. Node cannot fork a running V8, so the
// honest analogues are a V8 startup snapshot taken after the imports (`node --snapshot-blob`)
// and a process started ahead that imported them (what kindling's spare processes do for its own
// code). Libraries: typescript and yaml from node_modules, bundled into one file by esbuild.
import { execFileSync, fork } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { build } from 'esbuild'
import { type Case, runInterleaved, timeRow } from '../../bench/lib/cases.js'
import { runCommand } from '../../bench/lib/floors.js'
import { cite, published } from '../published.js'
import { find, mdTable, measured, ratio, ratioOf, time, us } from '../report/markdown.js'
import { emptyData, type Experiment } from './types.js'

const LIBS = ['typescript', 'yaml']
const CHECK = "if (typeof globalThis.__libs.ts.createSourceFile !== 'function' || globalThis.__libs.yaml.parse('a: 1').a !== 1) process.exit(3)"

async function prepare(repoRoot: string, dir: string): Promise<{ bundle: string; main: string; blob: string; child: string }> {
  fs.mkdirSync(dir, { recursive: true })
  const entry = path.join(dir, 'libs.cjs')
  fs.writeFileSync(entry, `globalThis.__libs = { ts: require('typescript'), yaml: require('yaml') }\n`)
  const bundle = path.join(dir, 'bundle.cjs')
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, nodePaths: [path.join(repoRoot, 'node_modules')], logLevel: 'error' })
  const main = path.join(dir, 'main.cjs')
  fs.writeFileSync(main, `require('./bundle.cjs')\n${CHECK}\n`)
  // the snapshot entry must be one script: the bundle, then what runs when the snapshot starts
  const snapEntry = path.join(dir, 'snapshot-entry.cjs')
  fs.writeFileSync(snapEntry, `${fs.readFileSync(bundle, 'utf8')}\nrequire('node:v8').startupSnapshot.setDeserializeMainFunction(() => { ${CHECK} })\n`)
  const blob = path.join(dir, 'libs.blob')
  execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', snapEntry], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  const child = path.join(dir, 'prewarmed.cjs')
  fs.writeFileSync(child, `require('./bundle.cjs')\nprocess.on('message', (m) => process.send(globalThis.__libs.yaml.parse(m).a))\nprocess.send('ready')\n`)
  return { bundle, main, blob, child }
}

export const r11: Experiment = {
  id: 'R11',
  title: 'Import cache: heavy imports, a startup snapshot and a process started ahead',
  origin: 'SOCK (ATC\'18), §4: Zygote provisioning and the import cache',
  async run(ctx) {
    const data = emptyData('R11')
    const f = await prepare(ctx.repoRoot, path.join(ctx.workDir, 'libs'))
    const ok = (what: string, r: { code: number | null; stderr: string; us: number }) => {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(0, 300)}`)
      return r.us
    }
    const cases: [string, string, () => Promise<number>][] = [
      ['node', 'fresh `node -e 0`, no imports', async () => ok('node -e 0', await runCommand(process.execPath, ['-e', '0']))],
      ['fresh', 'fresh node importing the libraries, until exit', async () => ok('fresh import', await runCommand(process.execPath, [f.main]))],
      ['snapshot', 'node started from a snapshot taken after the imports (--snapshot-blob), until exit', async () => ok('snapshot', await runCommand(process.execPath, ['--snapshot-blob', f.blob]))],
      ['worker', 'new Worker importing the libraries, until ready', () => new Promise<number>((resolve, reject) => {
        const t0 = performance.now()
        const w = new Worker(`require(${JSON.stringify(f.bundle)}); require('node:worker_threads').parentPort.postMessage(0)`, { eval: true })
        w.once('message', () => {
          const t = (performance.now() - t0) * 1000
          void w.terminate().then(() => resolve(t))
        })
        w.once('error', reject)
      })],
      ['prewarmed', 'process started ahead with the libraries imported: hand it a call (IPC), answer', async () => {
        const c = fork(f.child, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [] })
        await new Promise<void>((resolve, reject) => {
          c.once('message', () => resolve())
          c.once('error', reject)
        })
        const t0 = performance.now()
        const answer = await new Promise((resolve) => {
          c.once('message', resolve)
          c.send('a: 1')
        })
        const t = (performance.now() - t0) * 1000
        const gone = new Promise((r) => c.once('exit', r))
        c.kill('SIGKILL')
        await gone
        if (answer !== 1) throw new Error(`the pre-warmed process answered ${String(answer)}`)
        return t
      }],
    ]
    const rounds = ctx.quick ? 1 : 10
    const batch = ctx.quick ? 2 : 6
    const cs: Case[] = cases.map(([key, name, sample]) => ({ group: key, name, batch, warmup: ctx.quick ? 0 : 1, sample }))
    ctx.progress.step(`imports: ${cs.length} cases x ${rounds} round(s) of ${batch}`)
    for (const r of await runInterleaved(cs, rounds, ctx.progress, ctx.shouldStop)) {
      if (r.error) {
        data.notes.push(`${r.name}: FAILED in round ${r.blocks.length + 1}: ${r.error.split('\n')[0]}`)
        if (!r.blocks.length) continue
      }
      const row = timeRow(r.group, r.name, r.samples, r.blocks)
      data.rows.push({ key: r.group, label: r.name, system: 'host', unit: row.unit, n: row.n, p50: row.p50, p99: row.p99, ci95: row.ci95, rounds: r.blocks.length })
    }
    const size = fs.statSync(f.bundle).size
    data.method.push(
      `libraries: ${LIBS.join(' and ')} from node_modules, bundled by esbuild into one ${(size / 1048576).toFixed(1)} MiB CommonJS file (a user-land V8 snapshot can only hold one script); every variant checks that both libraries work before it counts as started`,
      `snapshot: \`node --snapshot-blob libs.blob --build-snapshot\` of the bundle, built once before the run (${(fs.statSync(f.blob).size / 1048576).toFixed(0)} MiB blob)`,
      'pre-warmed: a forked node process that imported the bundle and said ready (untimed), then timed from sending it a call (parse a YAML document with the imported library) to its answer; a new one per sample, as a spare is consumed per sandbox',
      `${rounds} round(s) of ${batch} per case, interleaved, after ${ctx.quick ? 'no' : 'one'} untimed warm-up start each; spawned processes timed until they exit; median, p99 and a 95% CI of the median from a bootstrap over rounds`,
    )
    return data
  },
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const lines = ['node', 'fresh', 'worker', 'snapshot', 'prewarmed'].map(row).filter((x) => !!x).map((x) => [x!.label, measured(x), ratio(ratioOf(row('fresh'), x))])
    const node = row('node')
    const fresh = row('fresh')
    const importCost = node && fresh ? us(fresh) - us(node) : undefined
    const md = [
      'SOCK found that a Python handler\'s imports can dominate its start (popular libraries add ~100 ms), and cached them in three tiers, the last being "Zygote" processes that already imported a set of packages and are forked for each new handler. Forking a Zygote skips both the interpreter\'s start and the imports. In kindling the question is the same for Node: what does a handler with heavy imports cost when it starts fresh, and what can be pre-imported?',
      '',
      mdTable(['start', 'here: median [95% CI], p99', 'fresh import / this'], lines, ['l', 'r', 'r']),
      '',
      mdTable(['', 'SOCK (published)', 'here'], [
        ['cost of the imports at start-up', cite(published('sock.imports')), `${time(importCost)} (fresh with imports − \`node -e 0\`)`],
        ['Zygote / snapshot speedup over a fresh start', cite(published('sock.zygote.speedup')), `snapshot: ${ratio(ratioOf(fresh, row('snapshot')))}`],
        ['three-tier cache vs no Zygotes', cite(published('sock.cache.speedup')), `process started ahead: ${ratio(ratioOf(fresh, row('prewarmed')))}`],
      ], ['l', 'r', 'r']),
      '',
      'The snapshot restores the imported libraries\' heap but still starts a Node process; the pre-warmed process has paid for everything before the call, which is what kindling\'s process and thread tiers do with their spares (for kindling\'s own code; a function\'s imports are loaded when its sandbox is made).',
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
}
