// What the compiled-in interruption checks cost: on a hot loop (the same add loop, plain and
// instrumented with several fuel values, the interrupt import doing what the runner's does: read
// the clock and a cancel flag, hand back fuel), and on real functions run through the runner with
// and without the checks (everything else, memory limit and snapshot reset included, the same).
import fs from 'node:fs'
import path from 'node:path'
import wabtInit from 'wabt'
import { REPO_ROOT } from '../../runtime/index.js'
import { instrument, INTERRUPT_IMPORT, standaloneWasmFunction } from '../../isolation/index.js'

export interface InterruptResult {
  iterations: number
  /** milliseconds per run, median of the repeats */
  plainMs: number
  instrumented: { fuel: number; ms: number; overheadPct: number; interruptCalls: number }[]
}

export interface RealWorkCost {
  name: string
  calls: number
  /** microseconds per call (run + reset), median; without the checks, with loop checks only, with loop and function-entry checks (default fuel) */
  plainUs: number
  loopsUs: number
  checkedUs: number
  loopsOverheadPct: number
  overheadPct: number
}

/** example functions with real work, and the request body each gets */
const REAL_WORK = [
  { name: 'sha256-64k', module: 'sha256-64k.wasm', body: '' },
  { name: 'fib 25 (recursive, AssemblyScript)', module: 'fib.wasm', body: '25' },
]

const LOOP_WAT = `(module
  (func (export "run") (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))`

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export async function measureInterrupt(iterations: number, repeats: number, fuels: number[]): Promise<InterruptResult> {
  const wabt = await wabtInit()
  const parsed = wabt.parseWat('loop.wat', LOOP_WAT)
  const plainBytes = parsed.toBinary({}).buffer as Uint8Array<ArrayBuffer>
  parsed.destroy()

  const time = (run: (n: number) => number, afterWarmup = () => {}): number => {
    run(1000) // compile tiers up before timing
    afterWarmup()
    const runs: number[] = []
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now()
      run(iterations)
      runs.push(performance.now() - t0)
    }
    return median(runs)
  }

  const plain = new WebAssembly.Instance(new WebAssembly.Module(plainBytes), {})
  const plainMs = time(plain.exports.run as (n: number) => number)

  const instrumented: InterruptResult['instrumented'] = []
  for (const fuel of fuels) {
    const out = instrument(plainBytes, { interrupt: true, fuel })
    const cancel = new Int32Array(new SharedArrayBuffer(4))
    const deadline = Date.now() + 3_600_000
    let calls = 0
    const interrupt = () => {
      calls++
      if (Date.now() >= deadline) throw new Error('deadline')
      if (Atomics.load(cancel, 0) !== 0) throw new Error('cancelled')
      return fuel
    }
    const inst = new WebAssembly.Instance(new WebAssembly.Module(out.bytes), { [INTERRUPT_IMPORT.module]: { [INTERRUPT_IMPORT.field]: interrupt } })
    const ms = time(inst.exports.run as (n: number) => number, () => (calls = 0))
    instrumented.push({ fuel, ms, overheadPct: ((ms - plainMs) / plainMs) * 100, interruptCalls: Math.round(calls / repeats) })
  }
  return { iterations, plainMs, instrumented }
}

/** The checks on real work: each function with and without them, calls interleaved in rounds. */
export function measureRealWork(calls: number): RealWorkCost[] {
  return REAL_WORK.map(({ name, module, body }) => {
    const bytes = fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', module))
    const variants = [{ interrupt: false }, { interrupt: true, entryChecks: false }, { interrupt: true }].map((o) => standaloneWasmFunction(bytes, o).createSandbox())
    const samples: number[][] = [[], [], []]
    const once = (i: number) => {
      const t0 = performance.now()
      const r = variants[i]!.run({ callId: 'bench', method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from(body), deadline: Date.now() + 60_000 })
      variants[i]!.cleanup()
      samples[i]!.push((performance.now() - t0) * 1000)
      if (r.status !== 200) throw new Error(`${name} answered ${r.status}: ${r.body.toString().slice(0, 200)}`)
    }
    for (let w = 0; w < 20; w++) for (const i of [0, 1, 2]) once(i)
    samples.forEach((s) => (s.length = 0))
    // rotate which goes first, so drift in the machine's speed falls on all alike
    const orders = [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    for (let c = 0; c < calls; c++) for (const i of orders[c % 3]!) once(i)
    const [plainUs, loopsUs, checkedUs] = samples.map((s) => median(s)) as [number, number, number]
    const pct = (us: number) => ((us - plainUs) / plainUs) * 100
    return { name, calls, plainUs, loopsUs, checkedUs, loopsOverheadPct: pct(loopsUs), overheadPct: pct(checkedUs) }
  })
}
