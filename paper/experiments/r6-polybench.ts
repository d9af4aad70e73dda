// R6 (Faasm ATC'20 Fig. 9): the compute overhead of WebAssembly against native code on the same
// kernels. PolyBench-style kernels (functions/polybench/kernels.c) are compiled natively and to
// wasm32-wasi with the same clang and -O2, then run in turn, native and wasm (V8, as kindling's
// wasm tiers run it), each timing its kernel inside with the monotonic clock after an untimed run.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { runCommand } from '../../bench/lib/floors.js'
import { siblingModule, which } from '../../isolation/index.js'
import { cite, published } from '../published.js'
import { mdTable, measured, num, ratio } from '../report/markdown.js'
import { summarize } from '../../bench/lib/stats.js'
import { emptyData, type Experiment, type Measured } from './types.js'

export const KERNELS = ['gemm', '2mm', 'atax', 'jacobi-2d', 'seidel-2d'] as const
const SIZES: Record<'quick' | 'full', Record<(typeof KERNELS)[number], number>> = {
  quick: { gemm: 96, '2mm': 80, atax: 400, 'jacobi-2d': 200, 'seidel-2d': 120 },
  full: { gemm: 800, '2mm': 600, atax: 2000, 'jacobi-2d': 1200, 'seidel-2d': 1000 },
}

/** One line of kernels.c's output: name, size, checksum and the timed runs (µs). */
export function parseKernelLine(line: string): { name: string; n: number; checksum: string; us: number[] } {
  const m = /^(\S+) n=(\d+) checksum=(\S+) us=([\d.,]+)\s*$/.exec(line.trim())
  if (!m) throw new Error(`not a kernel result: ${line.slice(0, 200)}`)
  return { name: m[1]!, n: Number(m[2]), checksum: m[3]!, us: m[4]!.split(',').filter(Boolean).map(Number) }
}

/** wasm median / native median, per kernel. */
export function overhead(wasmUs: readonly number[], nativeUs: readonly number[]): number {
  return summarize([...wasmUs]).p50 / summarize([...nativeUs]).p50
}

export const r6: Experiment = {
  id: 'R6',
  title: 'Compute overhead of WebAssembly against native code',
  origin: 'Faasm (ATC\'20), Fig. 9: Polybench/C, wasm against native',
  suiteRepeat: false,
  async run(ctx) {
    const data = emptyData('R6')
    const clang = which('clang')
    if (!clang) {
      data.status = 'skipped'
      data.reason = 'no clang to build the kernels'
      return data
    }
    const src = path.join(ctx.repoRoot, 'functions', 'polybench', 'kernels.c')
    const native = path.join(ctx.workDir, 'kernels')
    const wasm = path.join(ctx.workDir, 'kernels.wasm')
    execFileSync(clang, ['-O2', '-o', native, src], { stdio: ['ignore', 'ignore', 'pipe'] })
    try {
      execFileSync(clang, ['--target=wasm32-wasi', '-O2', '-o', wasm, src], { stdio: ['ignore', 'ignore', 'pipe'] })
    } catch (e) {
      data.status = 'skipped'
      data.reason = `clang cannot build wasm32-wasi here (wasi-libc missing?): ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}`
      return data
    }
    const runner = siblingModule(import.meta.url, 'wasi-main')
    const sizes = ctx.quick ? SIZES.quick : SIZES.full
    const reps = ctx.quick ? 3 : 5
    const rounds = Number(ctx.options['polybench-rounds'] ?? (ctx.quick ? 1 : 3))
    const times: Record<string, { native: number[]; wasm: number[]; checksums: Set<string> }> = {}
    ctx.progress.step(`${KERNELS.length} kernels x ${rounds} round(s) x ${reps} runs, native and wasm in turn`)
    for (let round = 0; round < rounds; round++) {
      for (const k of KERNELS) {
        if (ctx.shouldStop()) break
        const t = (times[k] ??= { native: [], wasm: [], checksums: new Set() })
        // alternate which goes first, so that a drift in the machine hits both alike
        const order = round % 2 ? (['wasm', 'native'] as const) : (['native', 'wasm'] as const)
        for (const which_ of order) {
          const args = [k, String(sizes[k]), String(reps)]
          const r = which_ === 'native' ? await runCommand(native, args) : await runCommand(process.execPath, [...runner.execArgv, '--no-warnings', runner.path, wasm, ...args])
          if (r.code !== 0) throw new Error(`${k} (${which_}) exited ${r.code}: ${r.stderr.slice(0, 300)}`)
          const line = parseKernelLine(r.stdout.toString())
          t[which_].push(...line.us)
          t.checksums.add(line.checksum)
        }
      }
    }
    for (const k of KERNELS) {
      const t = times[k]
      if (!t?.native.length || !t.wasm.length) continue
      const row = (which_: 'native' | 'wasm', us: number[]): Measured => {
        const s = summarize(us)
        const ms = s.p50 >= 10_000
        const f = ms ? 1 / 1000 : 1
        return { key: `${k}:${which_}`, label: `${k} (n=${sizes[k]}), ${which_ === 'native' ? 'native (clang -O2)' : 'wasm32-wasi (clang -O2) on V8'}`, system: which_ === 'native' ? 'host' : 'kindling', unit: ms ? 'ms' : 'us', n: s.n, p50: s.p50 * f, p99: s.p99 * f, mean: s.mean * f, ci95: [s.ci95[0] * f, s.ci95[1] * f] }
      }
      data.rows.push(row('native', t.native), row('wasm', t.wasm), { key: `${k}:ratio`, label: k, system: 'kindling', unit: 'ratio', n: Math.min(t.native.length, t.wasm.length), p50: overhead(t.wasm, t.native), note: t.checksums.size === 1 ? 'same checksum native and wasm' : `CHECKSUMS DIFFER: ${[...t.checksums].join(' vs ')}` })
      if (t.checksums.size !== 1) data.status = 'partial'
    }
    data.method.push(
      `kernels: functions/polybench/kernels.c, written after PolyBench/C's gemm, 2mm, atax, jacobi-2d (20 steps) and seidel-2d (20 steps) in double precision; sizes ${KERNELS.map((k) => `${k} ${sizes[k]}`).join(', ')}${ctx.quick ? ' (quick: small, for checking the pipeline only)' : ''}`,
      `built by this experiment with the same clang and -O2: natively, and with --target=wasm32-wasi (wasi-libc); the wasm runs under kindling's own WASI (isolation/wasm/wasi.ts; node:wasi crashed after memory.grow, see wasi-main.ts) in its own Node ${process.version} process (V8 ${process.versions.v8}, the engine of kindling's wasm tiers)`,
      `each process runs its kernel once untimed (V8 tiers the code up), then ${reps} timed runs, each timed inside with clock_gettime(CLOCK_MONOTONIC) around the kernel only (not the data's set-up); ${rounds} round(s), native and wasm in turn, the order alternating per round; the overhead is the ratio of the medians; the output's checksum is compared between the two builds`,
      'V8 compiles a module first with its baseline compiler (Liftoff) and tiers hot functions up to TurboFan in the background; a kernel whose untimed run is short may still run baseline code when it is timed (the quick sizes are that short)',
      'the module is the plain clang output: kindling\'s wasm tiers add interruption checks to every module they prepare (isolation/wasm), which this measurement leaves out, so it is V8\'s overhead, a lower bound of kindling\'s',
      'Faasm ran Polybench/C 5 times native and 5 times wasm (`poly_bench all 5 5`) in its own runtime (WAVM, ahead-of-time LLVM compilation); V8 compiles wasm with its own optimising tier, so the ratios are V8\'s, not WAVM\'s',
    )
    if (!data.rows.length) data.status = 'failed'
    return data
  },
  render(d) {
    const lines = KERNELS.map((k) => {
      const nat = d.rows.find((r) => r.key === `${k}:native`)
      const w = d.rows.find((r) => r.key === `${k}:wasm`)
      const rt = d.rows.find((r) => r.key === `${k}:ratio`)
      return nat && w && rt ? [k, measured(nat), measured(w), `${ratio(rt.p50)}${rt.note?.startsWith('CHECKSUMS') ? ' (checksums differ!)' : ''}`] : undefined
    }).filter((x): x is string[] => !!x)
    const ratios = d.rows.filter((r) => r.key.endsWith(':ratio')).map((r) => r.p50)
    const md = [
      'Faasm runs functions compiled to WebAssembly, so every function pays whatever WebAssembly costs against native code. Its Fig. 9 runs Polybench/C both ways and finds all kernels but two close to native (some faster), the two exceptions at 40–55% overhead. Here the same question for V8, the engine of kindling\'s wasm tiers, on five PolyBench-style kernels compiled from one C source both ways.',
      '',
      mdTable(['kernel', 'native: median [95% CI], p99', 'wasm on V8: median [95% CI], p99', 'wasm / native'], lines, ['l', 'r', 'r', 'r']),
      '',
      `Faasm (published, ${published('faasm.polybench').provenance}): ${cite(published('faasm.polybench'))}. Here: ${ratios.length ? `${num(Math.min(...ratios))}x to ${num(Math.max(...ratios))}x (${ratios.filter((r) => r <= 1.2).length} of ${ratios.length} within 20% of native)` : 'not measured'}.`,
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
  disagreements(d) {
    const slow = d.rows.filter((r) => r.key.endsWith(':ratio') && r.p50 > 1.6)
    return slow.length ? [`compute overhead: ${slow.map((r) => `${r.label} runs ${ratio(r.p50)} native under V8`).join(', ')}, beyond the 40–55% Faasm saw for its two worst Polybench kernels under WAVM (R6's table: the same source and clang -O2 both ways, medians of timed runs after an untimed one).`] : []
  },
}
