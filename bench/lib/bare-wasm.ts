// The floor of the wasm tiers: a bare `new WebAssembly.Instance` of the original (uninstrumented)
// module plus one call, with the smallest imports that let it run (a WASI stub holding stdin and
// collecting stdout, or AssemblyScript's string passing done by hand). Nothing else.

const ENOSYS = 52
const ESPIPE = 70

class Exit {
  constructor(readonly code: number) {}
}

/** Minimal wasi_snapshot_preview1 for one run: stdin from a buffer, stdout collected. */
function wasiStub(module: WebAssembly.Module, stdin: Uint8Array, out: Uint8Array[], mem: () => WebAssembly.Memory): WebAssembly.ModuleImports {
  let inPos = 0
  const view = () => new DataView(mem().buffer)
  const known: Record<string, (...a: number[]) => number> = {
    fd_read(_fd, iovs, n, nread) {
      const v = view()
      const bytes = new Uint8Array(mem().buffer)
      let total = 0
      for (let i = 0; i < n; i++) {
        const ptr = v.getUint32(iovs + i * 8, true)
        const len = v.getUint32(iovs + i * 8 + 4, true)
        const k = Math.min(len, stdin.length - inPos)
        bytes.set(stdin.subarray(inPos, inPos + k), ptr)
        inPos += k
        total += k
        if (k < len) break
      }
      v.setUint32(nread, total, true)
      return 0
    },
    fd_write(_fd, iovs, n, nwritten) {
      const v = view()
      let total = 0
      for (let i = 0; i < n; i++) {
        const ptr = v.getUint32(iovs + i * 8, true)
        const len = v.getUint32(iovs + i * 8 + 4, true)
        out.push(new Uint8Array(mem().buffer, ptr, len).slice())
        total += len
      }
      v.setUint32(nwritten, total, true)
      return 0
    },
    fd_fdstat_get(_fd, ptr) {
      const v = view()
      v.setUint8(ptr, 2) // character device
      v.setUint16(ptr + 2, 0, true)
      v.setBigUint64(ptr + 8, 0xffffffffn, true)
      v.setBigUint64(ptr + 16, 0xffffffffn, true)
      return 0
    },
    fd_seek: () => ESPIPE,
    fd_close: () => 0,
    proc_exit(code) {
      throw new Exit(code)
    },
  }
  const imports: WebAssembly.ModuleImports = {}
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === 'wasi_snapshot_preview1' && imp.kind === 'function') imports[imp.name] = known[imp.name] ?? (() => ENOSYS)
  }
  return imports
}

export interface BareCall {
  /** instantiates and calls once; returns the output */
  (): Uint8Array
}

/** A bare instantiate+call of a WASI command: `_start` with `body` on stdin. */
export function bareWasi(module: WebAssembly.Module, body: Uint8Array): BareCall {
  return () => {
    const out: Uint8Array[] = []
    let memory: WebAssembly.Memory | undefined
    const instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: wasiStub(module, body, out, () => memory!) })
    memory = instance.exports.memory as WebAssembly.Memory
    try {
      ;(instance.exports._start as () => void)()
    } catch (e) {
      if (!(e instanceof Exit) || e.code !== 0) throw e
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out)
  }
}

const AS_STRING_ID = 2

/** A bare instantiate+call of an AssemblyScript `handle(string): string`, strings passed by hand. */
export function bareAssemblyScript(module: WebAssembly.Module, body: Uint8Array): BareCall {
  const text = Buffer.from(body).toString('utf8')
  return () => {
    const instance = new WebAssembly.Instance(module, {
      env: {
        abort: () => {
          throw new Error('abort')
        },
      },
    })
    const x = instance.exports as { __new(size: number, id: number): number; handle(p: number): number; memory: WebAssembly.Memory }
    const ptr = x.__new(text.length << 1, AS_STRING_ID)
    const u16 = new Uint16Array(x.memory.buffer, ptr, text.length)
    for (let i = 0; i < text.length; i++) u16[i] = text.charCodeAt(i)
    const res = x.handle(ptr)
    const len = new Uint32Array(x.memory.buffer, res - 4, 1)[0]! >>> 1
    return Buffer.from(String.fromCharCode(...new Uint16Array(x.memory.buffer, res, len)), 'utf8')
  }
}
