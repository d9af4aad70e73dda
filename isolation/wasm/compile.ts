// The one place kindling compiles function code (core modules, and each core module of a component):
// every process that runs functions compiles through here, so V8's flags are set first, a compile
// error reads the same everywhere, and tests can count compiles (compile once per version: issue 11).
import { KindlingError } from '../errors.js'
import { isWasmBinary } from './formats.js'
import { applyWasmV8Flags } from './v8-flags.js'

let compiles = 0

/** Compiles a core module, turning V8's CompileError into a clear 400. */
export function compileModule(bytes: Uint8Array): WebAssembly.Module {
  applyWasmV8Flags()
  if (!isWasmBinary(bytes)) throw new KindlingError('KINDLING_ERR_NOT_WASM', 'the body is not a WebAssembly binary')
  compiles++
  try {
    return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/^WebAssembly\.Module\(\): /, '') : String(e)
    throw new KindlingError('KINDLING_ERR_WASM_INVALID', `the module does not compile: ${msg}`)
  }
}

/** How many modules this process has compiled (tests check each version is compiled once). */
export function compileCount(): number {
  return compiles
}
