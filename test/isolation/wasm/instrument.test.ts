import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it } from 'node:test'
import { instrument, MemoryTooSmallError, STATE_GLOBAL_PREFIX } from '../../../isolation/wasm/binary/instrument.js'
import { parseModule } from '../../../isolation/wasm/binary/module.js'
import { exampleModule } from '../../helpers/kindling.js'
import { wat } from '../../helpers/wat.js'
import { FIB_RECURSION, TAIL_RECURSION } from './recursion.js'

const interruptAfter = (ms: number, refill = 1000) => {
  const deadline = Date.now() + ms
  let calls = 0
  return {
    imports: { kindling: { interrupt: () => { calls++; if (Date.now() >= deadline) throw new Error('interrupted'); return refill } } },
    calls: () => calls,
  }
}

describe('instrument', () => {
  it('stops an infinite loop at its deadline through the interrupt import', async () => {
    const bytes = await wat(`(module (func (export "spin") (loop $l (br $l))))`)
    const out = instrument(bytes, { interrupt: true, fuel: 1000 })
    assert.equal(out.loops, 1)
    const t = interruptAfter(50)
    const inst = new WebAssembly.Instance(new WebAssembly.Module(out.bytes), t.imports)
    const t0 = Date.now()
    assert.throws(() => (inst.exports.spin as () => void)(), /interrupted/)
    assert.ok(Date.now() - t0 < 1000)
    assert.ok(t.calls() > 1)
  })

  for (const [what, source] of [['loop-free exponential recursion', FIB_RECURSION()], ['return_call tail recursion', TAIL_RECURSION()]] as const) {
    it(`stops ${what} at its deadline through checks at function entries`, async () => {
      const out = instrument(await wat(source), { interrupt: true, fuel: 1000 })
      assert.equal(out.loops, 0)
      const t = interruptAfter(50)
      const wasi = { fd_write: () => 0, proc_exit: () => {} }
      const inst = new WebAssembly.Instance(new WebAssembly.Module(out.bytes), { ...t.imports, wasi_snapshot_preview1: wasi })
      assert.throws(() => (inst.exports._start as () => void)(), /interrupted/)
      assert.ok(t.calls() > 1)
    })
  }

  it('keeps calls, element segments, exports and the start function pointing at the right functions', async () => {
    const bytes = await wat(`(module
      (import "env" "abort" (func $imp (param i32 i32 i32 i32)))
      (global $started (mut i32) (i32.const 0))
      (table 2 funcref)
      (elem (i32.const 0) $seven $eight)
      (type $r (func (result i32)))
      (func $seven (result i32) (i32.const 7))
      (func $eight (result i32) (i32.const 8))
      (func $init (global.set $started (i32.const 1)))
      (start $init)
      (func (export "direct") (result i32) (call $seven))
      (func (export "indirect") (param i32) (result i32) (call_indirect (type $r) (local.get 0)))
      (func (export "started") (result i32) (global.get $started))
      (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
        (loop $l
          (local.set $s (i32.add (local.get $s) (call $eight)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $s)))`)
    const out = instrument(bytes, { interrupt: true, fuel: 3 })
    const t = interruptAfter(10_000, 3)
    const e = new WebAssembly.Instance(new WebAssembly.Module(out.bytes), { env: { abort: () => {} }, ...t.imports }).exports as Record<string, (...a: number[]) => number>
    assert.equal(e.direct!(), 7)
    assert.equal(e.indirect!(0), 7)
    assert.equal(e.indirect!(1), 8)
    assert.equal(e.started!(), 1)
    assert.equal(e.sum!(10), 80)
    // 10 loop iterations, and 19 function entries: $init, 2 + 2 + 3 + 1 above, sum and 10 x $eight
    assert.equal(t.calls(), 3 + 6, 'a fuel of 3 runs out three times in 10 iterations and six times in 19 entries')
  })

  it('clamps memory to the limit so memory.grow fails past it', async () => {
    const bytes = await wat(`(module (memory (export "memory") 1) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`)
    const out = instrument(bytes, { interrupt: false, fuel: 1, memoryMaxPages: 3 })
    const e = new WebAssembly.Instance(new WebAssembly.Module(out.bytes)).exports as Record<string, (n: number) => number>
    assert.equal(e.grow!(2), 1)
    assert.equal(e.grow!(1), -1)
    assert.throws(() => instrument(bytes, { interrupt: false, fuel: 1, memoryMaxPages: 0 }), MemoryTooSmallError)
  })

  it('exports mutable globals and the memory for snapshot reset, and flags what a snapshot cannot restore', async () => {
    const bytes = await wat(`(module (memory 1) (global $g (mut i32) (i32.const 1)) (global $c i32 (i32.const 2)) (func (export "f") (global.set $g (i32.const 5))))`)
    const out = instrument(bytes, { interrupt: true, fuel: 10 })
    assert.deepEqual(out.stateGlobals, [`${STATE_GLOBAL_PREFIX}0`])
    assert.equal(out.memoryExport, '__kindling_memory')
    assert.equal(out.snapshotSafe, true)
    const tables = await wat(`(module (table 1 funcref) (func $f) (func (export "g") (table.set 0 (i32.const 0) (ref.func $f))) (elem declare func $f))`)
    const t = instrument(tables, { interrupt: true, fuel: 10 })
    assert.equal(t.snapshotSafe, false)
    assert.match(t.notSnapshotSafeBecause.join(), /tables/)
  })

  it('produces modules that V8 accepts for every example function, with the same imports plus the interrupt import', () => {
    for (const name of ['cat', 'env', 'noop', 'hello-cgi', 'sha512sum', 'sha256-64k', 'echo', 'fib', 'reverse-bytes', 'read-secret']) {
      const bytes = fs.readFileSync(exampleModule(name))
      const out = instrument(bytes, { interrupt: true, fuel: 4096, memoryMaxPages: 2048 })
      const before = WebAssembly.Module.imports(new WebAssembly.Module(bytes))
      const after = WebAssembly.Module.imports(new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>))
      assert.deepEqual(after.slice(0, before.length), before, name)
      assert.deepEqual(after.at(-1), { module: 'kindling', name: 'interrupt', kind: 'function' }, name)
      assert.equal(parseModule(out.bytes).definedFuncCount, parseModule(bytes).definedFuncCount, name)
    }
  })

  it('rejects truncated and foreign input with a format error', () => {
    const cat = fs.readFileSync(exampleModule('cat'))
    assert.throws(() => instrument(cat.subarray(0, cat.length - 10), { interrupt: true, fuel: 1 }), /end of module|runs past/)
    assert.throws(() => instrument(Buffer.from('not wasm at all'), { interrupt: true, fuel: 1 }), /not a WebAssembly binary/)
  })
})
