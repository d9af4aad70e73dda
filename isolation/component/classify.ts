// The upload check for components: the component must decode, export a wasi:http incoming handler
// of a version kindling provides (0.2.x) and import nothing kindling does not provide. Anything
// else is refused now, with the reason, rather than at deploy or at the first call.
import { KindlingError } from '../errors.js'
import { GRANTED_INTERFACES, HANDLER_EXPORT, HANDLER_INTERFACE, KEYVALUE_INTERFACES, KEYVALUE_VERSION, splitVersion } from './interfaces.js'
import { runJco, ToolchainError } from './toolchain/jco.js'
import { type ComponentWorld, parseWorld } from './world.js'

const GRANTED = new Set([...GRANTED_INTERFACES, ...KEYVALUE_INTERFACES])

export async function classifyComponent(bytes: Uint8Array): Promise<void> {
  let wit: string
  try {
    ;({ wit } = await runJco({ op: 'inspect' }, bytes))
  } catch (e) {
    throw toolchainFailure(e, 'the component does not decode')
  }
  checkWorld(parseWorld(wit))
}

/** Refuses a world kindling cannot run; returns the versioned handler export. */
export function checkWorld(world: ComponentWorld): string {
  const handler = world.exports.find((e) => HANDLER_EXPORT.test(e))
  if (!handler) {
    const other = world.exports.find((e) => splitVersion(e).bare === HANDLER_INTERFACE)
    const exported = [...world.exports, ...world.otherExports]
    throw new KindlingError('KINDLING_ERR_UNSUPPORTED_FORMAT', other
      ? `the component exports ${other}; kindling runs wasi:http 0.2 handlers (${HANDLER_INTERFACE}@0.2.x)`
      : `the component exports ${exported.length ? exported.join(', ') : 'nothing'}, not ${HANDLER_INTERFACE}@0.2.x: kindling runs components that handle HTTP requests, as Spin and wasmCloud functions do`)
  }
  const refused = [
    ...world.imports.filter((i) => {
      const v = splitVersion(i)
      return !GRANTED.has(v.bare) || !v.supported
    }),
    ...world.otherImports.map((name) => `${name} (not a WASI interface)`),
  ]
  if (refused.length) {
    throw new KindlingError('KINDLING_ERR_UNSUPPORTED_FORMAT', `the component imports ${refused.join(', ')}, which kindling does not provide; components may import these WASI 0.2.x interfaces: ${GRANTED_INTERFACES.join(', ')}, and ${KEYVALUE_INTERFACES.join(', ')} at @${KEYVALUE_VERSION}`)
  }
  return handler
}

/** A failure of the jco helper as a 400 (bad input) or, when jco is missing, a clear install hint. */
export function toolchainFailure(e: unknown, what: string): KindlingError {
  if (e instanceof ToolchainError && e.missing) {
    return new KindlingError('KINDLING_ERR_UNSUPPORTED_FORMAT', `the body is a WebAssembly component, and component support is not installed (${e.message}; run npm install)`)
  }
  if (e instanceof ToolchainError) return new KindlingError('KINDLING_ERR_WASM_INVALID', `${what}: ${e.message.split('\n').filter(Boolean).join('; ')}`)
  throw e
}
