// Decides at upload what kind of WebAssembly artifact a body is, refusing anything kindling cannot
// run. Components are handed to a component handler when one is installed.
import { KindlingError } from '../errors.js'
import type { WasmFormat } from '../tier.js'
import { compileModule } from './compile.js'
import { detectCoreFormat, isComponentBinary, isWasmBinary } from './formats.js'

export type ComponentClassifier = (bytes: Uint8Array) => Promise<void>
let componentClassifier: ComponentClassifier | undefined

/** The component tier registers how it validates components (transpiling them needs jco). */
export function setComponentClassifier(c: ComponentClassifier): void {
  componentClassifier = c
}

export async function classifyArtifact(bytes: Uint8Array): Promise<{ format: WasmFormat }> {
  if (!isWasmBinary(bytes)) throw new KindlingError('KINDLING_ERR_NOT_WASM', 'the body does not start with the WebAssembly magic bytes \\0asm')
  if (isComponentBinary(bytes)) {
    if (!componentClassifier) throw new KindlingError('KINDLING_ERR_UNSUPPORTED_FORMAT', 'the body is a WebAssembly component, and component support is not installed')
    await componentClassifier(bytes)
    return { format: 'component' }
  }
  return { format: detectCoreFormat(compileModule(bytes)) }
}
