// Outbound HTTP from wasm (issue 13 item 1): the blocking host call kindling uses (a helper thread
// makes the request while the sandbox thread waits with Atomics.wait, isolation/wasm/host/outbound.ts)
// against Binaryen's asyncify pass applied at deploy (the import unwinds the wasm stack, the host
// awaits the request, then rewinds). Measured here, not built into kindling:
//   1. one GET to a loopback server (a child process) from functions/dist/fetch-url.wasm, each call
//      on a fresh instance with kindling's WASI: the blocking import (outboundImports) against the
//      asyncified module driven by the unwind/await/rewind loop below; both make the request with
//      the same outboundFetch (allow-list, pinned address, cap), plus plain Node http.get. Then K
//      calls started together against a server that answers after W ms: what a thread that waits
//      (blocking) or goes on serving (asyncify) gets done.
//   2. compute slowdown of the instrumentation on code that never unwinds: sha512sum.wasm (C, 1 MiB
//      of stdin) and fib.wasm (AssemblyScript, call-heavy), each as built, through binaryen -O only
//      (control), asyncified for an import it has, and with every function instrumented (worst case).
//   3. deploy cost: module size and transform time (read, asyncify, -O, emit).
// Rounds interleave the variants (order rotated every round) on the same machine in the same run.
//   nice -n 10 node --import tsx bench/ops/asyncify.ts [rounds=1000]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { outboundFetch, OUTBOUND_ERROR, type OutboundPolicy, type OutboundResponse, outboundImports, OutputBuffer, parseOutbound, runWasiStart, WasiPreview1 } from '../../isolation/index.js'
import { REPO_ROOT } from '../../runtime/index.js'
import { environmentLine, environmentRecord } from '../lib/env.js'
import { percentile } from '../lib/stats.js'
import { plainGet } from '../lib/http1.js'

const rounds = Number(process.argv[2] ?? 1000)
const { default: binaryen } = await import('binaryen')

/** what loading binaryen.js costs a deploy path, once per process: timed in plain Node (tsx's loader would count here) */
function binaryenLoad(): string {
  const script = "const t = performance.now(); const r = process.memoryUsage().rss; await import('binaryen'); console.log(`${(performance.now() - t).toFixed(0)} ms, RSS +${((process.memoryUsage().rss - r) / 1048576).toFixed(0)} MiB`)"
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' }).trim()
}
const dist = (name: string): Bytes => new Uint8Array(fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', `${name}.wasm`)))
/** what clang (wasi-libc) and asc emit, set on each module once read (this binaryen.js has no readBinaryWithFeatures) */
const FEATURES = binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt

// ---------------------------------------------------------------- the deploy-time transform

/** bytes in an ArrayBuffer of their own (what WebAssembly.Module takes) */
type Bytes = Uint8Array<ArrayBuffer>

interface Transformed {
  bytes: Bytes
  ms: number
}

function read(bytes: Bytes): ReturnType<typeof binaryen.readBinary> {
  const m = binaryen.readBinary(bytes)
  m.setFeatures(FEATURES)
  return m
}

/** binaryen -O, with the asyncify pass first when `imports` is given (`all`: every function instrumented) */
function transform(bytes: Bytes, asyncify?: { imports: string; all?: boolean }): Transformed {
  const t = performance.now()
  const m = read(bytes)
  try {
    binaryen.setOptimizeLevel(2)
    binaryen.setShrinkLevel(1)
    if (asyncify) {
      binaryen.setPassArgument('asyncify-imports', asyncify.imports)
      binaryen.setPassArgument('asyncify-addlist', asyncify.all ? '*' : null)
      m.runPasses(['asyncify'])
    }
    m.optimize()
    return { bytes: new Uint8Array(m.emitBinary()), ms: performance.now() - t }
  } finally {
    binaryen.setPassArgument('asyncify-imports', null)
    binaryen.setPassArgument('asyncify-addlist', null)
    m.dispose()
  }
}

/** how many functions the pass instruments (its verbose lines, which it prints on stdout) */
function instrumentedCount(bytes: Bytes, asyncify: { imports: string; all?: boolean }): { instrumented: number; total: number } {
  const m = read(bytes)
  const total = m.getNumFunctions() - WebAssembly.Module.imports(new WebAssembly.Module(bytes)).filter((i) => i.kind === 'function').length
  const write = process.stdout.write
  const seen = new Set<string>()
  let pending = ''
  process.stdout.write = ((s: string | Uint8Array) => {
    pending += String(s)
    return true
  }) as typeof process.stdout.write
  try {
    binaryen.setPassArgument('asyncify-imports', asyncify.imports)
    binaryen.setPassArgument('asyncify-addlist', asyncify.all ? '*' : null)
    binaryen.setPassArgument('asyncify-verbose', '1')
    m.runPasses(['asyncify'])
  } finally {
    process.stdout.write = write
    for (const k of ['asyncify-imports', 'asyncify-addlist', 'asyncify-verbose']) binaryen.setPassArgument(k, null)
    m.dispose()
  }
  for (const line of pending.split('\n')) {
    const f = /^\[asyncify\] (\S+) can change the state/.exec(line)?.[1]
    if (f && !line.includes('is an import')) seen.add(f)
  }
  return { instrumented: Math.min(seen.size, total), total }
}

// ---------------------------------------------------------------- running a WASI command

const ASYNCIFY_NORMAL = 0
const ASYNCIFY_UNWINDING = 1
const ASYNCIFY_REWINDING = 2
/** room for the saved wasm locals and call indexes of one unwound stack */
const ASYNCIFY_DATA_BYTES = 16384

interface AsyncifyExports {
  memory: WebAssembly.Memory
  _start(): void
  asyncify_start_unwind(data: number): void
  asyncify_stop_unwind(): void
  asyncify_start_rewind(data: number): void
  asyncify_stop_rewind(): void
  asyncify_get_state(): number
}

/** A fresh instance with kindling's WASI and the call's stdin; `kindling` builds the kindling imports. */
function instantiate(mod: WebAssembly.Module, stdin: Uint8Array, kindling: (memory: () => WebAssembly.Memory) => Record<string, (...a: number[]) => number>) {
  const wasi = new WasiPreview1()
  let memory: WebAssembly.Memory | undefined
  const stdout = new OutputBuffer(1 << 20)
  const instance = new WebAssembly.Instance(mod, { wasi_snapshot_preview1: wasi.imports as WebAssembly.ModuleImports, kindling: kindling(() => memory!) })
  memory = instance.exports.memory as WebAssembly.Memory
  wasi.bindMemory(memory)
  wasi.begin({ args: ['fn'], env: [], stdin, stdout, stderr: new OutputBuffer(1 << 16), preopens: [], deadline: Date.now() + 10_000 })
  return { instance, stdout, memory }
}

function runStart(exports: WebAssembly.Exports): void {
  const code = runWasiStart(exports)
  if (code !== 0) throw new Error(`the module exited with ${code}`)
}

const patternsFor = (origin: string) => parseOutbound(origin)

/** fetch-url through the blocking import, exactly the one kindling's sandboxes get */
function fetchBlocking(mod: WebAssembly.Module, url: string, origin: string): string {
  const { instance, stdout } = instantiate(mod, Buffer.from(url), (memory) =>
    outboundImports({ patterns: patternsFor(origin), maxResponseBytes: 1 << 20 }, { memory, deadline: () => Date.now() + 5000, check: () => {} }).imports,
  )
  runStart(instance.exports)
  return stdout.toBuffer().toString()
}

/**
 * fetch-url asyncified: http_request starts the same outboundFetch, records the pending promise and
 * unwinds; the driver awaits it, then rewinds, and the import returns the status on the way back
 * in. The unwind data sits in a page grown past the heap when the instance is made (this wasi-libc
 * has no __heap_end, so its malloc takes later pages from memory.grow, after it; every answer is checked).
 */
async function fetchAsyncify(mod: WebAssembly.Module, url: string, origin: string, held?: number[]): Promise<string> {
  // the time this thread spends in the call, the await left out (what the gateway thread would give)
  let busy = 0
  let since = performance.now()
  let exports!: AsyncifyExports
  let pending: { promise: Promise<OutboundResponse>; outLenPtr: number } | undefined
  let status = 0
  let last: Uint8Array | undefined
  const policy = (): OutboundPolicy => ({ patterns: patternsFor(origin), maxResponseBytes: 1 << 20, deadline: Date.now() + 5000 })
  const text = (m: WebAssembly.Memory, p: number, l: number) => Buffer.from(m.buffer, p, l).toString('utf8')
  const { instance, stdout, memory } = instantiate(mod, Buffer.from(url), (mem) => ({
    http_request: (mPtr, mLen, uPtr, uLen, hPtr, hLen, bPtr, bLen, outLenPtr) => {
      if (exports.asyncify_get_state() === ASYNCIFY_REWINDING) {
        exports.asyncify_stop_rewind()
        return status
      }
      const m = mem()
      const headers: [string, string][] = []
      for (const line of text(m, hPtr!, hLen!).split('\n')) {
        const i = line.indexOf(':')
        if (i > 0) headers.push([line.slice(0, i).trim(), line.slice(i + 1).trim()])
      }
      const req = { method: text(m, mPtr!, mLen!), url: text(m, uPtr!, uLen!), headers, body: new Uint8Array(m.buffer).slice(bPtr!, bPtr! + bLen!) }
      pending = { promise: outboundFetch(req, policy()), outLenPtr: outLenPtr! }
      exports.asyncify_start_unwind(data)
      return 0
    },
    http_response_read: (ptr, offset, len) => {
      if (!last) return 0
      const chunk = last.subarray(offset!, offset! + len!)
      new Uint8Array(mem().buffer).set(chunk, ptr!)
      return chunk.length
    },
  }))
  exports = instance.exports as unknown as AsyncifyExports
  const data = memory.grow(1) * 65536
  new Int32Array(memory.buffer, data, 2).set([data + 8, data + ASYNCIFY_DATA_BYTES])
  for (;;) {
    runStart(instance.exports)
    if (exports.asyncify_get_state() !== ASYNCIFY_UNWINDING) break
    exports.asyncify_stop_unwind()
    busy += performance.now() - since
    const res = await pending!.promise
    since = performance.now()
    last = res.ok ? res.body : Buffer.from(res.message)
    status = res.ok ? res.status : OUTBOUND_ERROR[res.error]
    new DataView(memory.buffer).setUint32(pending!.outLenPtr, last.length, true)
    // the unwind wrote its end into the header: start the rewind from the top again
    exports.asyncify_start_rewind(data)
  }
  if (exports.asyncify_get_state() !== ASYNCIFY_NORMAL) throw new Error('asyncify left in a wrong state')
  held?.push((busy + performance.now() - since) * 1000)
  return stdout.toBuffer().toString()
}

// ---------------------------------------------------------------- the loopback server

/** /hello answers at once, /wait?ms=N after N ms; in a child process, so a blocked bench thread cannot stall it */
const SERVER = `
const s = require('node:http').createServer((req, res) => {
  const u = new URL(req.url, 'http://x')
  if (u.pathname === '/hello') return res.end('hello from target')
  if (u.pathname === '/wait') return setTimeout(() => res.end('hello from target'), Number(u.searchParams.get('ms')))
  res.writeHead(404); res.end()
})
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'))
process.stdin.on('end', () => process.exit(0)); process.stdin.resume()
`

async function startServer(): Promise<{ origin: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
    child.once('exit', () => reject(new Error('the loopback server exited')))
  })
  return { origin: `http://127.0.0.1:${port}`, child }
}

// ---------------------------------------------------------------- AssemblyScript fib

/** handle(body: string) of an asc --exportRuntime module, strings lifted and lowered by hand */
function runAs(mod: WebAssembly.Module, body: string): string {
  const instance = new WebAssembly.Instance(mod, { env: { abort: () => { throw new Error('abort') } } })
  const e = instance.exports as { memory: WebAssembly.Memory; __new(size: number, id: number): number; __pin(p: number): number; __unpin(p: number): void; handle(p: number): number }
  const arg = e.__pin(e.__new(body.length * 2, 2))
  const u16 = new Uint16Array(e.memory.buffer, arg, body.length)
  for (let i = 0; i < body.length; i++) u16[i] = body.charCodeAt(i)
  const out = e.handle(arg)
  e.__unpin(arg)
  const len = new Uint32Array(e.memory.buffer)[(out - 4) >>> 2]!
  return Buffer.from(e.memory.buffer, out, len).toString('utf16le')
}

// ---------------------------------------------------------------- the rounds

type Row = { name: string; v: number[] }
const row = (name: string): Row => ({ name, v: [] })
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))
function table(title: string, rows: Row[], unit: string, base?: Row): void {
  console.log(`\n${title}\n| case | n | p50 ${unit} | p90 ${unit} | p99 ${unit} |${base ? ' p50 vs first |' : ''}\n|---|---|---|---|---|${base ? '---|' : ''}`)
  for (const r of rows) {
    const rel = base ? ` ${((percentile(r.v, 50) / percentile(base.v, 50) - 1) * 100).toFixed(1)}% |` : ''
    console.log(`| ${r.name} | ${r.v.length} | ${fmt(percentile(r.v, 50))} | ${fmt(percentile(r.v, 90))} | ${fmt(percentile(r.v, 99))} |${rel}`)
  }
}

async function timed(r: Row, f: () => unknown): Promise<unknown> {
  const t = performance.now()
  const out = await f()
  r.v.push((performance.now() - t) * 1000)
  return out
}

/** runs each case once per round, the order rotated every round */
async function interleave(n: number, cases: [Row, () => unknown][], check: (out: unknown, name: string) => void): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cases.length; j++) {
      const [r, f] = cases[(i + j) % cases.length]!
      check(await timed(r, f), r.name)
    }
  }
}

async function main(): Promise<void> {
  const env = environmentRecord(REPO_ROOT, `nice -n 10 node --import tsx bench/ops/asyncify.ts ${rounds}`)
  console.log(environmentLine(env))

  // 3. deploy cost (first, so the other parts reuse the transformed modules)
  const modules = {
    'fetch-url': { imports: 'kindling.http_request' },
    sha512sum: { imports: 'wasi_snapshot_preview1.fd_read' },
    fib: { imports: 'env.abort' },
    pipeline: { imports: 'kindling.call' },
  } as const
  const built: Record<string, { orig: Bytes; opt: Bytes; asy: Bytes; all: Bytes }> = {}
  console.log(`\nbinaryen.js loaded (plain node, a child process) in ${binaryenLoad()}`)
  console.log('\n3. deploy cost: size and transform time (read + passes + -O + emit; median of 5 after a first, cold run)')
  console.log('| module | asyncify-imports | bytes as built | -O only | asyncify -O | all instrumented -O | functions instrumented | asyncify time ms (cold) | -O only time ms |\n|---|---|---|---|---|---|---|---|---|')
  for (const [name, a] of Object.entries(modules)) {
    const orig = dist(name)
    const cold = transform(orig, a).ms
    const times: number[] = []
    const optTimes: number[] = []
    let asy!: Transformed
    let opt!: Transformed
    for (let i = 0; i < 5; i++) {
      asy = transform(orig, a)
      times.push(asy.ms)
      opt = transform(orig)
      optTimes.push(opt.ms)
    }
    const all = transform(orig, { ...a, all: true })
    built[name] = { orig, opt: opt.bytes, asy: asy.bytes, all: all.bytes }
    const c = instrumentedCount(orig, a)
    console.log(`| ${name} | ${a.imports} | ${orig.length} | ${opt.bytes.length} | ${asy.bytes.length} (+${((asy.bytes.length / orig.length - 1) * 100).toFixed(0)}%) | ${all.bytes.length} (+${((all.bytes.length / orig.length - 1) * 100).toFixed(0)}%) | ${c.instrumented} of ${c.total} | ${percentile(times, 50).toFixed(0)} (${cold.toFixed(0)}) | ${percentile(optTimes, 50).toFixed(0)} |`)
  }

  // 1. one outbound request
  const server = await startServer()
  try {
    const url = `${server.origin}/hello`
    const fetchOrig = new WebAssembly.Module(built['fetch-url']!.orig)
    const fetchAsy = new WebAssembly.Module(built['fetch-url']!.asy)
    const expect = 'hello from target'
    const check = (out: unknown, name: string) => {
      if (typeof out !== 'string' || !out.endsWith(expect)) throw new Error(`${name} answered ${String(out)}`)
    }
    const r1 = [row('blocking import (helper thread + Atomics.wait), fresh instance'), row('asyncify (unwind, await, rewind), fresh instance'), row('plain Node http.get')]
    const cases1: [Row, () => unknown][] = [
      [r1[0]!, () => fetchBlocking(fetchOrig, url, server.origin)],
      [r1[1]!, () => fetchAsyncify(fetchAsy, url, server.origin)],
      [r1[2]!, () => plainGet(url)],
    ]
    await interleave(50, cases1.map(([, f]) => [row('warm'), f]), check)
    const held = row('asyncify: the thread held by the call (its synchronous parts, the await left out)')
    cases1[1] = [r1[1]!, () => fetchAsyncify(fetchAsy, url, server.origin, held.v)]
    await interleave(rounds, cases1, check)
    table('1a. one GET to loopback /hello, whole call, one at a time (the blocking import holds its thread for the whole call)', [...r1, held], 'µs', r1[0])

    // K calls started together against a server that answers after W ms: the blocking import holds
    // its thread for each, one after the other; asyncify leaves the thread free, so they overlap
    const K = 8
    const W = 20
    const waitUrl = `${server.origin}/wait?ms=${W}`
    const r2 = [row(`blocking import, ${K} calls started together`), row(`asyncify, ${K} calls started together`)]
    const batch = (f: () => unknown) => async () => {
      const outs = await Promise.all(Array.from({ length: K }, () => Promise.resolve().then(f)))
      for (const o of outs) check(o, 'batch')
      return expect
    }
    await interleave(Math.max(10, Math.round(rounds / 10)), [
      [r2[0]!, batch(() => fetchBlocking(fetchOrig, waitUrl, server.origin))],
      [r2[1]!, batch(() => fetchAsyncify(fetchAsy, waitUrl, server.origin))],
    ], check)
    table(`1b. ${K} calls at once, the server answers each after ${W} ms: time until all are done`, r2, 'µs')
  } finally {
    server.child.kill('SIGKILL')
  }

  // 2. compute slowdown (nothing unwinds)
  const stdin = Buffer.alloc(1 << 20, 7)
  const shaHash = (() => {
    const { instance, stdout } = instantiate(new WebAssembly.Module(built.sha512sum!.orig), stdin, () => ({}))
    runStart(instance.exports)
    return stdout.toBuffer().toString()
  })()
  const variants = (name: string) => {
    const b = built[name]!
    return [['as built', b.orig], ['binaryen -O only (control)', b.opt], [`asyncify (${modules[name as keyof typeof modules].imports}) -O`, b.asy], ['every function instrumented -O', b.all]] as const
  }
  const sha = variants('sha512sum').map(([n, bytes]) => ({ r: row(`sha512sum 1 MiB, ${n}`), mod: new WebAssembly.Module(bytes) }))
  const shaCases: [Row, () => unknown][] = sha.map(({ r, mod }) => [r, () => {
    const { instance, stdout } = instantiate(mod, stdin, () => ({}))
    runStart(instance.exports)
    return stdout.toBuffer().toString()
  }])
  const shaCheck = (out: unknown, name: string) => {
    if (out !== shaHash) throw new Error(`${name} printed ${String(out)}`)
  }
  await interleave(10, shaCases.map(([, f]) => [row('warm'), f]), shaCheck)
  await interleave(Math.max(30, Math.round(rounds / 3)), shaCases, shaCheck)
  table('2a. compute: sha512sum of 1 MiB (fresh instance, whole run)', sha.map((s) => s.r), 'µs', sha[0]!.r)

  const fibN = '25'
  const fib = variants('fib').map(([n, bytes]) => ({ r: row(`fib(${fibN}), ${n}`), mod: new WebAssembly.Module(bytes) }))
  const fibCases: [Row, () => unknown][] = fib.map(({ r, mod }) => [r, () => runAs(mod, fibN)])
  const fibCheck = (out: unknown, name: string) => {
    if (out !== '75025\n') throw new Error(`${name} answered ${String(out)}`)
  }
  await interleave(10, fibCases.map(([, f]) => [row('warm'), f]), fibCheck)
  await interleave(Math.max(30, Math.round(rounds / 3)), fibCases, fibCheck)
  table(`2b. compute: AssemblyScript fib(${fibN}) (fresh instance, whole call)`, fib.map((s) => s.r), 'µs', fib[0]!.r)
  console.log(`\nload average at the end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`)
}

await main()
