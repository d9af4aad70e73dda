// The functions every cold-start measurement runs, on every tier that can run them: a no-op, an
// echo and one with real work (SHA-256 of 64 KiB), as WebAssembly modules from functions/dist and,
// for the container tier, as the same jobs done by busybox (true, cat, sha256sum).
import { createHash } from 'node:crypto'
import path from 'node:path'

export type BenchFunctionName = 'noop' | 'echo' | 'sha256'

export interface BenchFunction {
  name: BenchFunctionName
  /** module in functions/dist */
  wasmFile: string
  /** 'wasi': a WASI command (_start); 'as': AssemblyScript handle(string) */
  wasmKind: 'wasi' | 'as'
  /** request body for the wasm version */
  body: Buffer
  /** busybox command line doing the same job in a container, and its body */
  container: { fprocess: string; body: Buffer }
  /** checks a response body; returns an error text or undefined */
  check(body: Buffer): string | undefined
  about: string
}

/** The 64 KiB that functions/c/sha256-64k.c hashes when its body is empty. */
export function sha256Block(): Buffer {
  const b = Buffer.alloc(65536)
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff
  return b
}

const SHA_HEX = createHash('sha256').update(sha256Block()).digest('hex')
const ECHO_TEXT = 'hello from the kindling benchmark'

export const BENCH_FUNCTIONS: readonly BenchFunction[] = [
  {
    name: 'noop',
    wasmFile: 'noop.wasm',
    wasmKind: 'wasi',
    body: Buffer.alloc(0),
    container: { fprocess: 'true', body: Buffer.alloc(0) },
    check: (b) => (b.length === 0 ? undefined : `noop answered ${b.length} bytes`),
    about: 'C/WASI int main(){return 0;}',
  },
  {
    name: 'echo',
    wasmFile: 'echo.wasm',
    wasmKind: 'as',
    body: Buffer.from(ECHO_TEXT),
    container: { fprocess: 'cat', body: Buffer.from(ECHO_TEXT) },
    check: (b) => (b.toString() === ECHO_TEXT ? undefined : `echo answered ${JSON.stringify(b.toString().slice(0, 80))}`),
    about: 'AssemblyScript handle(body) => body',
  },
  {
    name: 'sha256',
    wasmFile: 'sha256-64k.wasm',
    wasmKind: 'wasi',
    body: Buffer.alloc(0),
    container: { fprocess: 'sha256sum', body: sha256Block() },
    check: (b) => (b.toString().startsWith(SHA_HEX) ? undefined : `sha256 answered ${JSON.stringify(b.toString().slice(0, 80))}`),
    about: 'C/WASI sha256 of 64 KiB',
  },
]

export function wasmPath(repoRoot: string, f: BenchFunction): string {
  return path.join(repoRoot, 'functions', 'dist', f.wasmFile)
}

/** Appends a custom section with unique bytes: the module is the same code, but V8's compile cache misses. */
export function withNonce(bytes: Uint8Array, nonce: string): Buffer {
  const name = Buffer.from('kindling-bench-nonce')
  const payload = Buffer.from(nonce)
  const content = Buffer.concat([uleb(name.length), name, payload])
  return Buffer.concat([Buffer.from(bytes), Buffer.from([0]), uleb(content.length), content])
}

function uleb(n: number): Buffer {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n) b |= 0x80
    out.push(b)
  } while (n)
  return Buffer.from(out)
}
