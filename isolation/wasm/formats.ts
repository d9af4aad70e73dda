// Detects how a WebAssembly artifact is driven, from its header, imports and exports, and refuses
// what kindling cannot run with a message that names the formats it accepts.
import { KindlingError } from '../errors.js'
import type { WasmFormat } from '../tier.js'
import { CHAIN_IMPORT_NAMES, CHAIN_MODULE } from './chain.js'
import { WASI_FUNCTIONS } from './wasi.js'
import { KV_IMPORT_NAMES } from './host/kv-imports.js'
import { OUTBOUND_IMPORT_NAMES } from './host/outbound.js'
import { RESPONSE_HEADER_IMPORT_NAMES } from './host/response-headers.js'

export const AS_ENV_IMPORTS: ReadonlySet<string> = new Set(['abort', 'trace', 'seed'])

const COMPONENT_VERSION = [0x0d, 0x00, 0x01, 0x00]

export function isWasmBinary(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d
}

export function isComponentBinary(bytes: Uint8Array): boolean {
  return isWasmBinary(bytes) && COMPONENT_VERSION.every((b, i) => bytes[4 + i] === b)
}

/** Which format a compiled core module has; throws a 400 for anything else. */
export function detectCoreFormat(module: WebAssembly.Module): Exclude<WasmFormat, 'component'> {
  const forbidden = WebAssembly.Module.imports(module)
    .filter((i) => !(
      (i.module === 'wasi_snapshot_preview1' && i.kind === 'function' && WASI_FUNCTIONS.has(i.name)) ||
      (i.module === 'env' && i.kind === 'function' && AS_ENV_IMPORTS.has(i.name)) ||
      (i.module === CHAIN_MODULE && i.kind === 'function' && CHAIN_IMPORT_NAMES.has(i.name)) ||
      // key-value state and variables (issue 13, items 2-3)
      (i.module === CHAIN_MODULE && i.kind === 'function' && KV_IMPORT_NAMES.has(i.name)) ||
      // outbound HTTP (issue 13 item 1)
      (i.module === CHAIN_MODULE && i.kind === 'function' && OUTBOUND_IMPORT_NAMES.has(i.name)) ||
      // response headers of modules
      (i.module === CHAIN_MODULE && i.kind === 'function' && RESPONSE_HEADER_IMPORT_NAMES.has(i.name))
    ))
    .map((i) => `${i.module}.${i.name} (${i.kind})`)
  if (forbidden.length) {
    const shown = forbidden.slice(0, 5).join(', ') + (forbidden.length > 5 ? `, and ${forbidden.length - 5} more` : '')
    throw new KindlingError('KINDLING_ERR_FORBIDDEN_IMPORT', `the module imports ${shown}`)
  }
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]))
  if (exports.get('_start') === 'function') return 'wasi-command'
  const handler = exports.get('handle') === 'function' || exports.get('handleBytes') === 'function'
  if (handler) {
    if (exports.get('__new') !== 'function' || exports.get('memory') !== 'memory') {
      throw new KindlingError('KINDLING_ERR_UNSUPPORTED_FORMAT', 'the module exports a handler but not the AssemblyScript runtime (__new, memory): build it with asc --exportRuntime')
    }
    return 'assemblyscript'
  }
  if (exports.get('_initialize') === 'function') {
    throw new KindlingError('KINDLING_ERR_UNSUPPORTED_FORMAT', 'the module is a WASI reactor (exports _initialize, no _start); build it as a command with a main function')
  }
  throw new KindlingError('KINDLING_ERR_UNSUPPORTED_FORMAT', 'the module exports neither _start nor an AssemblyScript handle/handleBytes function')
}
