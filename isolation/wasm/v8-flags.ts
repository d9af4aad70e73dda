// V8 flags every process that compiles function code sets before compiling: the gateway (inline
// tier), app hosts (wasm and thread tiers), their worker threads share the process's flags.
import v8 from 'node:v8'

/**
 * Branch hints let V8 lay out the interruption checks' call as cold code (instrument.ts writes
 * the hints). Without the flag V8 ignores the hint section; the module still runs the same.
 */
export const WASM_V8_FLAGS = ['--experimental-wasm-branch-hinting']

let applied = false

export function applyWasmV8Flags(): void {
  if (applied) return
  applied = true
  for (const f of WASM_V8_FLAGS) v8.setFlagsFromString(f)
}
