// In-process A/B of an instance-cold call (a new sandbox, its instance made, the first call run),
// inside the process that runs the instance, between two builds (--a, --b dirs), beside the bare
// instantiate+call floor (bench/lib/bare-wasm.ts) in the same rounds: what kindling's own code
// adds around V8's instantiate, without the app-host hop. Rounds alternate A and B; per round the
// median wall time of a call and the CPU time per call; the spread of the per-round B/A ratios is
// the noise.
//   node dist/bench/profiles/cold-ab.js --a tmp/ab-A [--b .] [--rounds 15] [--function echo]
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { bareAssemblyScript, bareWasi } from '../lib/bare-wasm.js'
import { BENCH_FUNCTIONS, wasmPath } from '../lib/functions.js'
import { artifactFor, invokeRequest } from '../lib/inproc.js'
import { median } from '../lib/stats.js'
import { loadConfig, tierContext } from '../../runtime/index.js'
import { compileModule, prepareWasm, type WasmFunction } from '../../isolation/index.js'

const { values } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string', default: '.' }, rounds: { type: 'string', default: '15' }, function: { type: 'string', default: 'echo' }, n: { type: 'string', default: '400' } } })
if (!values.a) throw new Error('--a DIR is required')
const fn = BENCH_FUNCTIONS.find((f) => f.name === values.function)!
const bytes = fs.readFileSync(wasmPath(process.cwd(), fn))
const dir = fs.mkdtempSync('/tmp/kindling-cold-ab-')
const cfg = loadConfig({}, { deployExamples: false, dataDir: dir })
const ctx = tierContext(cfg, { dataDir: cfg.dataDirAbs, readSecret: () => undefined, log: () => {} }, 'inline')
const art = artifactFor(cfg.dataDirAbs, { name: 'cold-ab', tier: 'inline', app: 'cold-ab', wasm: bytes })
const prepared = prepareWasm(art, ctx)
const module = compileModule(fs.readFileSync(prepared.modulePath))
// each build's own runner (the dist/ of --a and --b), so no static import of it here
const load = async (root: string) => (await import(path.resolve(root, 'dist/isolation/wasm/runner.js'))) as { WasmFunction: new (...args: ConstructorParameters<typeof WasmFunction>) => WasmFunction }
const fns = { A: new (await load(values.a)).WasmFunction(module, prepared.plan), B: new (await load(values.b!)).WasmFunction(module, prepared.plan) }
const original = new WebAssembly.Module(bytes)
const floor = fn.wasmKind === 'as' ? bareAssemblyScript(original, fn.body) : bareWasi(original, fn.body)
const cold = (f: WasmFunction) => () => {
  const r = f.createSandbox().run(invokeRequest(fn.body))
  if (r.status !== 200 || fn.check(r.body)) throw new Error(`${r.status} ${r.body.toString().slice(0, 100)}`)
}
const cases: Record<string, () => void> = { floor: () => void floor(), A: cold(fns.A), B: cold(fns.B) }
const n = Number(values.n)
const got: Record<string, { wall: number[]; cpu: number[] }> = {}
for (let r = 0; r < Number(values.rounds); r++) {
  const order = r % 2 ? ['floor', 'A', 'B'] : ['B', 'A', 'floor']
  for (const name of order) {
    const f = cases[name]!
    const samples = new Float64Array(n)
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      f()
      samples[i] = (performance.now() - t0) * 1000
    }
    const cpu = process.cpuUsage(cpu0)
    const g = (got[name] ??= { wall: [], cpu: [] })
    g.wall.push(median([...samples]))
    g.cpu.push((cpu.user + cpu.system) / n)
  }
}
const skip = 2 // the first rounds warm up every case
const m = (k: string, w: 'wall' | 'cpu') => median(got[k]![w].slice(skip))
for (const w of ['wall', 'cpu'] as const) {
  const ratios = got.A![w].slice(skip).map((a, i) => got.B![w][i + skip]! / a)
  console.log(`${fn.name} instance-cold in-process, ${w === 'wall' ? 'median wall per call' : 'CPU per call'}: floor ${m('floor', w).toFixed(1)} us, A ${m('A', w).toFixed(1)} us (${(m('A', w) / m('floor', w)).toFixed(2)}x floor), B ${m('B', w).toFixed(1)} us (${(m('B', w) / m('floor', w)).toFixed(2)}x); B/A median ${median(ratios).toFixed(3)} (rounds ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`)
}
fs.rmSync(dir, { recursive: true, force: true })
