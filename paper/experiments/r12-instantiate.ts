// R12 (wasmtime PR #2900 / #3691, Lucet): the cost of making a WebAssembly instance, the floor of
// kindling's wasm tiers, on V8 in Node: modules from empty to a real WASI program, a new instance
// against the reset kindling does instead (copy the initial memory back), and instantiation on
// one thread against two in parallel.
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { bareWasi } from '../../bench/lib/bare-wasm.js'
import { type Case, runInterleaved, timeRow } from '../../bench/lib/cases.js'
import { BENCH_FUNCTIONS, wasmPath } from '../../bench/lib/functions.js'
import { cite, published } from '../published.js'
import { find, mdTable, measured, num, ratio, ratioOf } from '../report/markdown.js'
import { emptyData, type Experiment, type Measured } from './types.js'

/**
 * WAT of the synthetic modules, shaped as wasmtime's benches/instantiation has them: empty.wat,
 * small_memory.wat (one page) and data_segments.wat (17 pages and one 440-byte data segment at
 * offset 0), each with an exported no-op function as theirs have.
 */
export function wats(): Record<string, string> {
  const seg = 'kindling-'.repeat(49).slice(0, DATA_SEGMENT_BYTES)
  return {
    empty: '(module)',
    memory: '(module (memory (export "memory") 1) (func (export "_start")))',
    data: `(module (memory (export "memory") 17) (func (export "_start")) (data (i32.const 0) "${seg}"))`,
  }
}

export const DATA_SEGMENT_BYTES = 440

const PARALLEL_WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const m = new WebAssembly.Module(workerData.bytes)
const end = Date.now() + workerData.ms
let n = 0
while (Date.now() < end) { new WebAssembly.Instance(m, {}); n++ }
parentPort.postMessage(n)
`

/** Instances per second from `threads` worker threads instantiating for `ms`. */
async function throughput(bytes: Uint8Array, threads: number, ms: number): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
      const w = new Worker(PARALLEL_WORKER, { eval: true, workerData: { bytes, ms } })
      w.once('message', (n: number) => {
        resolve(n)
        void w.terminate()
      })
      w.once('error', reject)
    })),
  )
  return counts.reduce((a, b) => a + b, 0) / (ms / 1000)
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r))

export const r12: Experiment = {
  id: 'R12',
  title: 'Pure instantiation',
  origin: 'wasmtime PR #2900 and #3691 (instantiation micro-benchmarks), Fastly Lucet',
  async run(ctx) {
    const data = emptyData('R12')
    const wabt = await (await import('wabt')).default()
    const mods: Record<string, WebAssembly.Module> = {}
    const bytes: Record<string, Uint8Array<ArrayBuffer>> = {}
    for (const [k, wat] of Object.entries(wats())) {
      bytes[k] = new Uint8Array(wabt.parseWat(`${k}.wat`, wat).toBinary({}).buffer)
      mods[k] = new WebAssembly.Module(bytes[k]!)
    }
    const noop = BENCH_FUNCTIONS.find((f) => f.name === 'noop')!
    const noopBytes = fs.readFileSync(wasmPath(ctx.repoRoot, noop))
    const noopCall = bareWasi(new WebAssembly.Module(noopBytes), noop.body)
    const quick = ctx.quick
    const batch = quick ? 100 : 500
    const rounds = quick ? 1 : 10
    const timed = (fn: () => void) => async () => {
      await yieldToLoop()
      const t0 = performance.now()
      fn()
      return (performance.now() - t0) * 1000
    }
    // kindling's reset: the initial memory copied back over a live instance's memory
    const live = new WebAssembly.Instance(mods['memory']!, {})
    const mem = new Uint8Array((live.exports.memory as WebAssembly.Memory).buffer)
    const snapshot = mem.slice()
    const cases: [string, string, () => Promise<number>][] = [
      ['empty', 'new Instance: empty module', timed(() => new WebAssembly.Instance(mods['empty']!, {}))],
      ['memory', 'new Instance: one 64 KiB memory page', timed(() => new WebAssembly.Instance(mods['memory']!, {}))],
      ['data', `new Instance: 17 pages, one data segment of ${DATA_SEGMENT_BYTES} bytes (wasmtime's data_segments.wat)`, timed(() => new WebAssembly.Instance(mods['data']!, {}))],
      ['reset', 'reset instead: copy the 64 KiB initial memory back (kindling\'s snapshot restore)', timed(() => mem.set(snapshot))],
      ['wasi', 'new Instance + run: WASI no-op (noop.wasm, C)', timed(() => noopCall())],
    ]
    const cs: Case[] = cases.map(([key, name, sample]) => ({ group: key, name, batch, warmup: 50, sample }))
    ctx.progress.step(`instantiation: ${cs.length} cases x ${rounds} round(s) of ${batch}`)
    for (const r of await runInterleaved(cs, rounds, ctx.progress, ctx.shouldStop)) {
      if (r.error) {
        data.notes.push(`${r.name}: FAILED in round ${r.blocks.length + 1}: ${r.error.split('\n')[0]}`)
        if (!r.blocks.length) continue
      }
      const row = timeRow(r.group, r.name, r.samples, r.blocks)
      data.rows.push({ key: r.group, label: r.name, system: 'primitive', unit: row.unit, n: row.n, p50: row.p50, p99: row.p99, ci95: row.ci95, rounds: r.blocks.length })
    }
    const ms = quick ? 300 : 2000
    ctx.progress.step('instantiation throughput, 1 and 2 threads')
    // with and without a memory: if only the module with a memory fails to scale, the memory's
    // allocation (address-space reservation, its guard regions) is what serialises the threads
    for (const mod of ['memory', 'empty'] as const) {
      for (const threads of [1, 2]) {
        const reps: number[] = []
        for (let i = 0; i < (quick ? 1 : 3); i++) reps.push(await throughput(bytes[mod]!, threads, ms))
        reps.sort((a, b) => a - b)
        data.rows.push({ key: mod === 'memory' ? `tput-${threads}` : `tput-empty-${threads}`, label: `instances per second, ${threads} thread(s) in parallel (${mod === 'memory' ? '1-page module' : 'empty module'})`, system: 'primitive', unit: 'count', n: reps.length, p50: reps[Math.floor((reps.length - 1) / 2)]!, ci95: [reps[0]!, reps[reps.length - 1]!], rounds: reps.length })
      }
    }
    data.method.push(
      `V8 ${process.versions.v8} in Node ${process.version}, modules compiled once (new WebAssembly.Module) and instantiated with new WebAssembly.Instance; synthetic modules assembled from WAT with wabt`,
      `${rounds} round(s) of ${batch} samples per case after 50 untimed warm-up samples, interleaved; each sample timed alone with performance.now() after a turn of the event loop (so garbage collection of earlier instances falls into the samples, as it does in a server)`,
      `throughput: worker threads instantiating the 1-page module, then the empty module, in a loop for ${ms / 1000} s, ${quick ? 1 : 3} repeat(s), median and range`,
    )
    return data
  },
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const pub: Record<string, string> = {
      empty: cite(published('wasmtime.empty')),
      memory: cite(published('wasmtime.small-memory')),
      data: cite(published('wasmtime.data-segments')),
      reset: cite(published('wasmtime.cow')),
      wasi: `${cite(published('wasmtime.wasi-hello'))}; Lucet ${cite(published('lucet.instantiate'))}`,
    }
    const lines = ['empty', 'memory', 'data', 'reset', 'wasi'].map(row).filter((x) => !!x).map((x) => [x!.label, pub[x!.key] ?? '', measured(x), ratio(ratioOf(x, row('empty')))])
    const t1 = row('tput-1')
    const t2 = row('tput-2')
    const md = [
      'Everything kindling\'s wasm tiers do per call sits on top of one primitive: making a WebAssembly instance of a module compiled ahead. wasmtime\'s benchmarks put that at 3 µs for an empty module up to ~30 µs for a WASI hello world, and lower with a pooling allocator and copy-on-write memory; Lucet claimed under 50 µs. kindling cannot use wasmtime from Node (no binding here), so this is V8\'s cost, and kindling\'s alternative to a new instance: keep the instance and copy its initial memory back after each call.',
      '',
      mdTable(['operation', 'wasmtime / Lucet (published)', 'V8 here: median [95% CI], p99', 'x empty module'], lines, ['l', 'r', 'r', 'r']),
      '',
      t1 && t2 ? `Instantiation throughput: ${num(t1.p50)} instances/s on one thread, ${num(t2.p50)}/s on two (${ratio(t2.p50 / t1.p50)}; the machine has 2 cores).` : '',
      ...scalingText(row('tput-1'), row('tput-2'), row('tput-empty-1'), row('tput-empty-2')),
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
  disagreements(d) {
    const e = find(d.rows, 'empty')
    const out: string[] = []
    if (e && e.p50 > 3 * 3) out.push(`an empty module instantiates in ${measured(e)} on V8 here against wasmtime's 3.0 µs: V8's instantiation goes through the JavaScript API (an exports object, a JS wrapper per export), and this machine is not wasmtime's CI machine; the ratios between module kinds are the comparable part.`)
    return out
  },
}

/**
 * Why two threads barely beat one, from the measurement: compares the scaling of the module with
 * a memory against the empty module measured the same way.
 */
export function scalingText(m1?: Measured, m2?: Measured, e1?: Measured, e2?: Measured): string[] {
  if (!m1 || !m2 || !e1 || !e2) return []
  const mem = m2.p50 / m1.p50
  const empty = e2.p50 / e1.p50
  const why =
    empty > mem + 0.3
      ? `The empty module scales to ${ratio(empty)} on two threads, the module with a memory to ${ratio(mem)}: what the threads contend for is the memory's allocation, not instantiation itself. Each wasm memory reserves its address space with guard regions (~10 GiB, R3) and gives it back when collected: mmap, mprotect and munmap all take the process's one address-space lock, and V8 tracks wasm memories in a process-wide table under a mutex, so two threads making memories take turns.`
      : `The empty module scales no better (${ratio(empty)} against ${ratio(mem)}), so the limit is not the memory's allocation: with 2 cores shared with the main thread, the garbage collector's threads and the rest of the machine (load average in the machine line), a second instantiating thread finds little idle CPU.`
  return ['', why]
}
