// AssemblyScript's calling convention for a `handle(string): string` or `handleBytes(ArrayBuffer):
// ArrayBuffer` export, done directly on an instance's exports. @assemblyscript/loader's
// instantiateSync did this before, and per instance it made ~30 closures and walked every export
// to demangle it (8 us of a 39 us instance-cold call here); kindling needs four helpers and the
// env imports the loader added (abort, seed). Layouts as the loader (0.28) reads them.

/** The runtime exports an AssemblyScript module compiled with --exportRuntime has. */
export interface AsRuntime {
  memory: WebAssembly.Memory
  __new(size: number, id: number): number
  __setArgumentsLength?: ((n: number) => void) | WebAssembly.Global
  __argumentsLength?: WebAssembly.Global
  handle?: (p: number) => number
  handleBytes?: (p: number) => number
}

const ID_OFFSET = -8
const SIZE_OFFSET = -4
const ARRAYBUFFER_ID = 1
const STRING_ID = 2
/** below this many code units String.fromCharCode beats TextDecoder in V8 (the loader's break-even) */
const STRING_SMALLSIZE = 192
const STRING_CHUNKSIZE = 1024
const utf16 = new TextDecoder('utf-16le', { fatal: true })

function stringAt(buffer: ArrayBuffer, ptr: number): string {
  let len = new Uint32Array(buffer)[(ptr + SIZE_OFFSET) >>> 2]! >>> 1
  const wtf16 = new Uint16Array(buffer, ptr, len)
  if (len <= STRING_SMALLSIZE) return String.fromCharCode(...wtf16)
  try {
    return utf16.decode(wtf16)
  } catch {
    // lone surrogates (WTF-16): decoded code unit by code unit, in chunks the stack can hold
    let s = ''
    let off = 0
    while (len - off > STRING_CHUNKSIZE) s += String.fromCharCode(...wtf16.subarray(off, (off += STRING_CHUNKSIZE)))
    return s + String.fromCharCode(...wtf16.subarray(off))
  }
}

/** The string at ptr (null for a null pointer), checked to be one. */
export function getString(memory: WebAssembly.Memory, ptr: number): string | null {
  if (!ptr) return null
  const buffer = memory.buffer
  const id = new Uint32Array(buffer)[(ptr + ID_OFFSET) >>> 2]
  if (id !== STRING_ID) throw new Error(`not a string: ${ptr}`)
  return stringAt(buffer, ptr)
}

export function newString(x: AsRuntime, s: string): number {
  const ptr = x.__new(s.length << 1, STRING_ID)
  // read after __new: it may have grown the memory
  const u16 = new Uint16Array(x.memory.buffer)
  for (let i = 0, p = ptr >>> 1; i < s.length; ++i) u16[p + i] = s.charCodeAt(i)
  return ptr
}

export function newArrayBuffer(x: AsRuntime, bytes: Uint8Array): number {
  const ptr = x.__new(bytes.length, ARRAYBUFFER_ID)
  new Uint8Array(x.memory.buffer).set(bytes, ptr)
  return ptr
}

/** A copy of an ArrayBuffer's bytes. */
export function getArrayBuffer(x: AsRuntime, ptr: number): Buffer {
  const buffer = x.memory.buffer
  const length = new Uint32Array(buffer)[(ptr + SIZE_OFFSET) >>> 2]!
  return Buffer.from(buffer.slice(ptr, ptr + length))
}

/** Tells the runtime how many arguments the next call passes (optional parameters), as the loader's export wrappers did. */
export function setArgumentsLength(x: AsRuntime, n: number): void {
  const g = x.__argumentsLength
  if (g) g.value = n
  else if (typeof x.__setArgumentsLength === 'function') x.__setArgumentsLength(n)
}

/** env imports every AssemblyScript module may ask for; `memory` gives the instance's memory once there is one. */
export function asEnvImports(memory: () => WebAssembly.Memory | undefined): Record<string, (...a: number[]) => unknown> {
  return {
    abort(msg: number, file: number, line: number, column: number) {
      // as the loader: unchecked reads, `<yet unknown>` while there is no memory (abort during start)
      const m = memory()
      const str = (p: number) => (m ? stringAt(m.buffer, p) : '<yet unknown>')
      throw new Error(`abort: ${str(msg)} at ${str(file)}:${line}:${column}`)
    },
    seed: () => Date.now(),
  }
}
