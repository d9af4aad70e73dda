// The functions the conformance suite deploys, one set per artifact kind: WebAssembly modules (for
// inline, wasm, thread, process) and busybox shell commands in an OCI image (for container). The
// suite asks a kit for a behaviour ("an echo", "a loop", "crashes on this input") and never looks
// at how the kit builds it; each kit also says what answer its behaviour gives.
import fs from 'node:fs'
import type { ArtifactKind } from '../../isolation/tier.js'
import { exampleModule } from '../helpers/kindling.js'
import { wasiCommand, wat } from '../helpers/wat.js'
import { FIB_RECURSION, TAIL_RECURSION } from '../isolation/wasm/recursion.js'

/** One function to deploy: a WebAssembly module (uploaded first) or an image, plus deployment fields. */
export interface FixtureSpec {
  wasm?: Uint8Array
  image?: string
  envProcess?: string
  envVars?: Record<string, string>
  labels?: Record<string, string>
  limits?: Record<string, string>
  /** the request body that makes the function show the behaviour */
  input?: string
}

export interface ExpectedReply {
  status: number
  headers?: Record<string, string>
  body?: string | RegExp
  errorCode?: string
}

export interface ArtifactKit {
  kind: ArtifactKind
  /** returns the request body unchanged */
  echo(): Promise<FixtureSpec>
  /** prints its environment: CGI/watchdog variables show the request headers */
  env(): Promise<FixtureSpec>
  /** sets a status and headers of its own */
  headers(): Promise<{ spec: FixtureSpec; expect: ExpectedReply }>
  /** never returns */
  loop(timeout: string): Promise<FixtureSpec>
  /** crashes on `crashInput`, echoes (as okOutput) on `okInput` */
  crashOrEcho(): Promise<{ spec: FixtureSpec; crashInput: string; crashCode: string; okInput: string; okOutput: string }>
  /** allocates until its memory limit stops it */
  grow(limit: string): Promise<{ spec: FixtureSpec; expect: ExpectedReply }>
  /** answers how many calls this instance has served */
  counter(): Promise<FixtureSpec>
  /** waits `ms`, then answers "slept" */
  sleeper(ms: number): Promise<{ spec: FixtureSpec; output: string }>
  /** the kit can also keep state on purpose (com.kindling.state=reuse) */
  reusable: boolean
  /**
   * Leaves host-side state behind on `first.input` (a chained call to `callee` with a secret body,
   * its stdout closed, stdin half read), then on `second.input` answers what of it it can still
   * see; undefined when the kit's functions have no such state (a process per call).
   */
  leftovers?(callee: string): Promise<Leftovers[]>
  /** runs for seconds without a single loop (exponential recursion, tail calls), if the kit can say so */
  recursion?(timeout: string): Promise<FixtureSpec[]>
}

export interface Leftovers {
  spec: FixtureSpec
  /** the com.kindling.state values the function can be deployed with */
  states: string[]
  first: { input: string; output: string }
  second: { input: string; output: string }
}

/** A WASI command that echoes stdin, or traps when the first byte of stdin is "t". */
const CRASH_OR_ECHO = wasiCommand(
  `(i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 1024))
   (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
   (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 116)) (then unreachable))
   (i32.store (i32.const 16) (i32.const 1024)) (i32.store (i32.const 20) (i32.load (i32.const 8)))
   (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))`,
  `(import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))`,
)

/** A CGI program that answers 418 with headers of its own. */
const TEAPOT_TEXT = "Status: 418 I'm a teapot\nContent-Type: application/x-tea\nX-Conformance: short-and-stout\n\ntea\n"
const TEAPOT = wasiCommand(
  `(i32.store (i32.const 0) (i32.const 256)) (i32.store (i32.const 4) (i32.const ${Buffer.byteLength(TEAPOT_TEXT)}))
   (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))`,
  `(data (i32.const 256) "${TEAPOT_TEXT.replace(/\n/g, '\\0a').replace(/'/g, '\\27')}")`,
)

/** A WASI command that sleeps through poll_oneoff (a blocking import), then prints "slept". */
const sleeperWat = (ms: number) => wasiCommand(
  `(i64.store (i32.const 0) (i64.const 0)) (i32.store8 (i32.const 8) (i32.const 0)) (i32.store (i32.const 16) (i32.const 1))
   (i64.store (i32.const 24) (i64.const ${ms * 1_000_000})) (i64.store (i32.const 32) (i64.const 0)) (i32.store16 (i32.const 40) (i32.const 0))
   (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
   (i32.store (i32.const 200) (i32.const 300)) (i32.store (i32.const 204) (i32.const 5))
   (drop (call $fd_write (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 208)))`,
  `(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32))) (data (i32.const 300) "slept")`,
)

/**
 * On "c": kindling.call(callee, SECRET) with no room for the answer, prints "called", closes
 * stdout. Otherwise: prints what kindling.result_read still gives (or "none"), "|", the rest of stdin.
 */
const LEFTOVER_SECRET = 'secret of the first caller'
const leftoversWat = (callee: string) => wasiCommand(
  `(local $n i32)
   (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 1))
   (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
   (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 99))
     (then
       (drop (call $chain (i32.const 2048) (i32.const ${Buffer.byteLength(callee)}) (i32.const 3000) (i32.const ${LEFTOVER_SECRET.length}) (i32.const 4000) (i32.const 0) (i32.const 12)))
       (call $out (i32.const 5020) (i32.const 6))
       (drop (call $fd_close (i32.const 1)))
       (return)))
   (local.set $n (call $result_read (i32.const 4096) (i32.const 0) (i32.const 256)))
   (if (i32.gt_s (local.get $n) (i32.const 0))
     (then (call $out (i32.const 4096) (local.get $n)))
     (else (call $out (i32.const 5000) (i32.const 4))))
   (call $out (i32.const 5010) (i32.const 1))
   (i32.store (i32.const 0) (i32.const 1100)) (i32.store (i32.const 4) (i32.const 900))
   (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
   (call $out (i32.const 1100) (i32.load (i32.const 8)))`,
  `(import "kindling" "call" (func $chain (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
   (import "kindling" "result_read" (func $result_read (param i32 i32 i32) (result i32)))
   (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
   (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
   (func $out (param $p i32) (param $l i32)
     (i32.store (i32.const 16) (local.get $p)) (i32.store (i32.const 20) (local.get $l))
     (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
   (data (i32.const 2048) "${callee}") (data (i32.const 3000) "${LEFTOVER_SECRET}")
   (data (i32.const 5000) "none") (data (i32.const 5010) "|") (data (i32.const 5020) "called")`,
)

/** The same as leftoversWat for a handler that reuse mode can call again (AssemblyScript). */
const leftoversAs = (callee: string) => `
@external("kindling", "call")
declare function kindling_call(namePtr: usize, nameLen: i32, bodyPtr: usize, bodyLen: i32, outPtr: usize, outCap: i32, outLenPtr: usize): i32
@external("kindling", "result_read")
declare function kindling_result_read(ptr: usize, offset: i32, len: i32): i32
export function handle(body: string): string {
  if (body == 'chain') {
    const name = String.UTF8.encode(${JSON.stringify(callee)})
    const secret = String.UTF8.encode(${JSON.stringify(LEFTOVER_SECRET)})
    const outLen = new ArrayBuffer(4)
    kindling_call(changetype<usize>(name), name.byteLength, changetype<usize>(secret), secret.byteLength, changetype<usize>(outLen), 0, changetype<usize>(outLen))
    return 'called'
  }
  const buf = new ArrayBuffer(256)
  const n = kindling_result_read(changetype<usize>(buf), 0, 256)
  return (n > 0 ? String.UTF8.decode(buf.slice(0, n)) : 'none') + '|' + body.slice(1)
}`

/** Compiles AssemblyScript source as functions/build.mjs does. */
async function assemblyScript(source: string): Promise<Uint8Array> {
  const { default: asc } = await import('assemblyscript/asc')
  // exportRuntime (the loader's __newString...) is a CLI option CompilerOptions does not list
  const options = { optimizeLevel: 1, exportRuntime: true, noAssert: true }
  const r = await asc.compileString(source, options)
  if (r.error || !r.binary) throw new Error(`asc: ${r.error?.message ?? 'no binary'}\n${r.stderr.toString()}`)
  return r.binary
}

const example = (name: string) => new Uint8Array(fs.readFileSync(exampleModule(name)))

export const wasmKit: ArtifactKit = {
  kind: 'wasm-module',
  reusable: true,
  echo: async () => ({ wasm: example('cat') }),
  env: async () => ({ wasm: example('env') }),
  headers: async () => ({
    spec: { wasm: await wat(TEAPOT) },
    expect: { status: 418, headers: { 'content-type': 'application/x-tea', 'x-conformance': 'short-and-stout' }, body: 'tea\n' },
  }),
  loop: async (timeout) => ({ wasm: await wat(wasiCommand('(loop $l (br $l))')), envVars: { exec_timeout: timeout } }),
  crashOrEcho: async () => ({ spec: { wasm: await wat(CRASH_OR_ECHO) }, crashInput: 'trap', crashCode: 'KINDLING_ERR_FUNCTION_TRAP', okInput: 'fine', okOutput: 'fine' }),
  grow: async (limit) => ({
    spec: { wasm: await wat(wasiCommand('(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) (unreachable)')), limits: { memory: limit } },
    expect: { status: 500, errorCode: 'KINDLING_ERR_MEMORY_LIMIT', body: /memory limit/ },
  }),
  counter: async () => ({ wasm: example('counter') }),
  sleeper: async (ms) => ({ spec: { wasm: await wat(sleeperWat(ms)) }, output: 'slept' }),
  recursion: async (timeout) => [
    { wasm: await wat(FIB_RECURSION()), envVars: { exec_timeout: timeout } },
    { wasm: await wat(TAIL_RECURSION()), envVars: { exec_timeout: timeout } },
  ],
  leftovers: async (callee) => {
    const first = { input: 'chain', output: 'called' }
    const second = { input: 'rsecond', output: 'none|second' }
    return [
      { spec: { wasm: await wat(leftoversWat(callee)) }, states: ['fresh'], first, second },
      { spec: { wasm: await assemblyScript(leftoversAs(callee)) }, states: ['fresh', 'reuse'], first, second },
    ]
  },
}

/** busybox commands through the classic watchdog: `sh` reads its script from the request body. */
const SHELL_IMAGE = 'functions/alpine:latest'

export const containerKit: ArtifactKit = {
  kind: 'oci-image',
  reusable: false,
  echo: async () => ({ image: SHELL_IMAGE, envProcess: 'cat' }),
  env: async () => ({ image: SHELL_IMAGE, envProcess: 'env' }),
  headers: async () => ({
    spec: { image: SHELL_IMAGE, envProcess: 'cat', envVars: { content_type: 'application/x-tea' }, input: 'tea\n' },
    // the classic watchdog sets headers from its env; a process cannot choose its status
    expect: { status: 200, headers: { 'content-type': 'application/x-tea' }, body: 'tea\n' },
  }),
  loop: async (timeout) => ({ image: SHELL_IMAGE, envProcess: 'sh', envVars: { exec_timeout: timeout }, input: 'while :; do :; done' }),
  crashOrEcho: async () => ({
    spec: { image: SHELL_IMAGE, envProcess: 'sh' },
    crashInput: 'kill -SEGV $$',
    crashCode: 'KINDLING_ERR_FUNCTION_EXIT',
    okInput: 'echo fine',
    okOutput: 'fine\n',
  }),
  grow: async (limit) => ({
    spec: { image: SHELL_IMAGE, envProcess: 'sh', limits: { memory: limit }, input: 'x=0123456789abcdef; while :; do x=$x$x; done' },
    expect: { status: 500, errorCode: 'KINDLING_ERR_MEMORY_LIMIT' },
  }),
  counter: async () => ({
    image: SHELL_IMAGE,
    envProcess: 'sh',
    input: 'n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/n; echo $n',
  }),
  sleeper: async (ms) => ({ spec: { image: SHELL_IMAGE, envProcess: 'sh', input: `sleep ${ms / 1000}; echo slept` }, output: 'slept\n' }),
}
