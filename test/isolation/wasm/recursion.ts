// WASI commands that run long without a single loop: what preemption at loop headers alone never
// stopped. Each one finishes on its own after seconds (so that a missing check fails a test
// instead of hanging it), and prints "done".
import { wasiCommand } from '../../helpers/wat.js'

const printDone = `(i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 4))
   (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))`
const done = '(data (i32.const 100) "done")'

/** fib(n) by plain double recursion: ~1.1e9 calls for n = 42, depth only 42. */
export const FIB_RECURSION = (n = 42) => wasiCommand(
  `(drop (call $fib (i64.const ${n}))) ${printDone}`,
  `(func $fib (param $n i64) (result i64)
     (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
       (then (local.get $n))
       (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1))) (call $fib (i64.sub (local.get $n) (i64.const 2)))))))
   ${done}`,
)

/** A count down by tail calls (return_call): the stack never grows, n frames run one after another. */
export const TAIL_RECURSION = (n = 3_000_000_000n) => wasiCommand(
  `(drop (call $down (i64.const ${n}))) ${printDone}`,
  `(func $down (param $n i64) (result i64)
     (if (result i64) (i64.eqz (local.get $n))
       (then (i64.const 0))
       (else (return_call $down (i64.sub (local.get $n) (i64.const 1))))))
   ${done}`,
)

/** Recursion without end and without tail calls: only the call stack's limit stops it. */
export const DEEP_RECURSION = wasiCommand(
  `(drop (call $deeper (i32.const 0))) ${printDone}`,
  `(func $deeper (param $n i32) (result i32) (i32.add (call $deeper (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
   ${done}`,
)

/** FIB_RECURSION's work in the module's start function: instantiation itself runs for seconds. */
export const SLOW_START = wasiCommand(
  printDone,
  `(func $fib (param $n i64) (result i64)
     (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
       (then (local.get $n))
       (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1))) (call $fib (i64.sub (local.get $n) (i64.const 2)))))))
   (func $init (drop (call $fib (i64.const 42))))
   (start $init)
   ${done}`,
)
