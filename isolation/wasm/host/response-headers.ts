// Response headers for WebAssembly modules (issue 13): the `kindling` import below lets a module
// that is not a CGI program (an AssemblyScript or C `handle`) set headers of its answer; a WASI
// command may use it too, beside its CGI header block.
//
//   kindling.response_header_set(name_ptr, name_len, value_ptr, value_len) -> i32
//     0: set. An earlier value of the same name is replaced (set-cookie accumulates instead: its
//     values cannot be joined). Negative (RESPONSE_HEADER_ERROR): -1 a pointer or length outside
//     memory, -2 the name is not an HTTP token, -3 the value holds CR, LF or another control
//     character, -4 kindling's own (hop-by-hop, content-length, status, x-call-id, x-start-time,
//     x-served-by, x-duration-seconds, x-kindling-*), -5 more than MAX_FUNCTION_HEADERS headers or
//     MAX_FUNCTION_HEADER_BYTES bytes in the call. KINDLING_ERR_RESPONSE_HEADER names them.
// Names are case-insensitive (sent lower-case); values are bytes (latin1, as HTTP/1.1 sends them).
// The headers belong to the call: none outlives it, and a failed call answers without them.
import { functionHeaderRefusal, MAX_FUNCTION_HEADER_BYTES, MAX_FUNCTION_HEADERS } from '../../http-headers.js'
import { inBounds } from '../guest-memory.js'
import { addResponseHeader, type ResponseHeaders } from '../../tier.js'

export const RESPONSE_HEADER_IMPORT_NAMES: ReadonlySet<string> = new Set(['response_header_set'])

export const RESPONSE_HEADER_ERROR = {
  BAD_ARGUMENTS: -1,
  INVALID_NAME: -2,
  INVALID_VALUE: -3,
  RESERVED: -4,
  TOO_MANY: -5,
} as const

const REFUSAL_CODE = { name: RESPONSE_HEADER_ERROR.INVALID_NAME, value: RESPONSE_HEADER_ERROR.INVALID_VALUE, reserved: RESPONSE_HEADER_ERROR.RESERVED } as const

export class ResponseHeaderImports {
  /** the headers of the call under way, in the order set */
  private headers: [string, string][] = []

  constructor(private readonly memory: () => WebAssembly.Memory | undefined) {}

  readonly imports = {
    response_header_set: (namePtr: number, nameLen: number, valuePtr: number, valueLen: number): number => {
      const memory = this.memory()
      if (!memory) return RESPONSE_HEADER_ERROR.BAD_ARGUMENTS
      const mem = new Uint8Array(memory.buffer)
      const inside = (p: number, l: number) => inBounds(mem, p, l)
      if (!inside(namePtr, nameLen) || !inside(valuePtr, valueLen)) return RESPONSE_HEADER_ERROR.BAD_ARGUMENTS
      // the caps bound what is decoded, too
      if (nameLen + valueLen > MAX_FUNCTION_HEADER_BYTES) return RESPONSE_HEADER_ERROR.TOO_MANY
      const name = Buffer.from(mem.buffer, namePtr, nameLen).toString('latin1').toLowerCase()
      const value = Buffer.from(mem.buffer, valuePtr, valueLen).toString('latin1')
      const refused = functionHeaderRefusal(name, value)
      if (refused) return REFUSAL_CODE[refused]
      const kept = name === 'set-cookie' ? this.headers : this.headers.filter(([n]) => n !== name)
      const bytes = kept.reduce((n, [k, v]) => n + k.length + v.length, 0) + name.length + value.length
      if (kept.length >= MAX_FUNCTION_HEADERS || bytes > MAX_FUNCTION_HEADER_BYTES) return RESPONSE_HEADER_ERROR.TOO_MANY
      kept.push([name, value])
      this.headers = kept
      return 0
    },
  }

  /** Puts the call's headers on its answer (over the CGI block's or the default content-type). */
  applyTo(headers: ResponseHeaders): void {
    for (const [name] of this.headers) if (name !== 'set-cookie') delete headers[name]
    for (const [name, value] of this.headers) addResponseHeader(headers, name, value)
  }

  /** Forgets the call's headers: nothing leaks into the next call. */
  endCall(): void {
    this.headers = []
  }
}
