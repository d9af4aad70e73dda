// What the compiled-in interruption checks cost on a hot loop: the same add loop, plain and
// instrumented with several fuel values, the interrupt import doing what the runner's does (read
// the clock and a cancel flag, hand back fuel).
import wabtInit from 'wabt'
import { INTERRUPT_IMPORT, instrument } from '../../isolation/wasm/binary/instrument.js'

export interface InterruptResult {
  iterations: number
  /** milliseconds per run, median of the repeats */
  plainMs: number
  instrumented: { fuel: number; ms: number; overheadPct: number; interruptCalls: number }[]
}

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
