// What a component may import and must export to run on kindling. Shared by the upload check
// (classify.ts) and the host (host/imports.ts), so that what is accepted is what is provided.

/** The export every component needs; any 0.2.x version (the API is the same across 0.2). */
export const HANDLER_INTERFACE = 'wasi:http/incoming-handler'
export const HANDLER_EXPORT = /^wasi:http\/incoming-handler@0\.2\.\d+$/

/** WASI 0.2 interfaces kindling provides, by name without version. */
export const GRANTED_INTERFACES: readonly string[] = [
  'wasi:http/types', 'wasi:http/outgoing-handler',
  'wasi:io/error', 'wasi:io/poll', 'wasi:io/streams',
  'wasi:cli/environment', 'wasi:cli/exit', 'wasi:cli/stdin', 'wasi:cli/stdout', 'wasi:cli/stderr',
  'wasi:cli/terminal-input', 'wasi:cli/terminal-output', 'wasi:cli/terminal-stdin', 'wasi:cli/terminal-stdout', 'wasi:cli/terminal-stderr',
  'wasi:clocks/monotonic-clock', 'wasi:clocks/wall-clock',
  'wasi:random/random', 'wasi:random/insecure', 'wasi:random/insecure-seed',
  'wasi:filesystem/types', 'wasi:filesystem/preopens',
]

/** wasi:keyvalue, not yet a WASI release: one draft version (host/keyvalue.ts says why this one). */
export const KEYVALUE_INTERFACES: readonly string[] = ['wasi:keyvalue/store', 'wasi:keyvalue/atomics', 'wasi:keyvalue/batch']
export const KEYVALUE_VERSION = '0.2.0-draft2'

const VERSION_02 = /^0\.2\.\d+$/

/** An interface name without its version, and whether the version is one kindling provides (0.2.x; the keyvalue draft). */
export function splitVersion(name: string): { bare: string; version: string | undefined; supported: boolean } {
  const at = name.lastIndexOf('@')
  const bare = at < 0 ? name : name.slice(0, at)
  const version = at < 0 ? undefined : name.slice(at + 1)
  const supported = version !== undefined && (KEYVALUE_INTERFACES.includes(bare) ? version === KEYVALUE_VERSION : VERSION_02.test(version))
  return { bare, version, supported }
}
