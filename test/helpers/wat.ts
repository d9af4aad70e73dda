// Compiles WebAssembly text to binary for tests (wabt, an npm package), so test modules are written
// next to the test that uses them.
import wabtInit from 'wabt'

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined

export async function wat(source: string): Promise<Uint8Array<ArrayBuffer>> {
  wabt ??= await wabtInit()
  const mod = wabt.parseWat('test.wat', source, { multi_value: true, bulk_memory: true, reference_types: true, simd: true, tail_call: true })
  try {
    return mod.toBinary({}).buffer as Uint8Array<ArrayBuffer>
  } finally {
    mod.destroy()
  }
}

/**
 * A minimal WASI command around a body of instructions in $main (with fd_write imported). Imports
 * in `extra` are moved before the memory, as the text format requires.
 */
export function wasiCommand(body: string, extra = ''): string {
  const imports = extra.match(/\(import [^()]*\([^()]*(\([^()]*\)[^()]*)*\)\)/g) ?? []
  let rest = extra
  for (const i of imports) rest = rest.replace(i, '')
  return `(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    ${imports.join('\n    ')}
    (memory (export "memory") 1)
    ${rest}
    (func $main ${body})
    (func (export "_start") (call $main)))`
}

/**
 * A WASI command that loops forever, so that with a huge fuel its compiled-in checks never fire
 * in time: loop counters are per function call, and neither loop here gets far (the outer one
 * calls a function whose own loop stops at 1000). Tests of kill backstops use it.
 */
export const UNSTOPPABLE_LOOP = wasiCommand(
  '(loop $l (call $inner) (br $l))',
  '(func $inner (local $i i32) (loop $k (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $k (i32.lt_u (local.get $i) (i32.const 1000)))))',
)

