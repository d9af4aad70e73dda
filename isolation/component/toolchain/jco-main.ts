// The jco helper process: one job per process, so the gateway never loads jco (~6 MB of wasm) and
// a slow transpile of a large component never stalls its event loop. Usage:
//   jco-main '{"op":"inspect"}'                          < component   -> {"wit": "..."}
//   jco-main '{"op":"transpile","outDir":"...","options":{...}}' < component -> {"files": [...], "exports": [...]}
// The answer is one JSON line on stdout; a failure is {"error": "..."}.
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { TRANSPILER_PACKAGE, transpilerDir } from './package.js'

interface Job {
  op: 'inspect' | 'transpile'
  outDir?: string
  options?: Record<string, unknown>
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

function writeSynced(file: string, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'w')
  try {
    fs.writeSync(fd, bytes)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

// The two transpiled Rust crates jco-transpile ships (its package exports list neither, so they
// are loaded by path): wasm-tools, and js-component-bindgen, which writes the bindings.
interface WasmTools {
  $init: Promise<void>
  tools: { componentWit(binary: Uint8Array): string }
}
interface Bindgen {
  $init: Promise<void>
  generate(component: Uint8Array, options: Record<string, unknown>): { files: [string, Uint8Array][]; imports: string[]; exports: [string, string][] }
}

/**
 * js-component-bindgen 0.1.1 throws when a component drops its own handle of a host resource it
 * never called a method on (a handler that ignores its request and drops it). Dropping a resource
 * of kindling's host needs no host-side work (nothing to close; the instance goes away after the
 * call), so the drop becomes a no-op.
 */
const UNREACHABLE_DROP = /throw new TypeError\('unreachable trampoline for resource \[ResourceIndex\(\d+\)\]'\)/g
function patchBindings(js: string): string {
  return js.replace(UNREACHABLE_DROP, '/* kindling: dropping a host resource needs no host-side work */')
}

async function vendor<T extends { $init: Promise<void> }>(name: string): Promise<T> {
  const dir = transpilerDir()
  if (!dir) throw Object.assign(new Error(`${TRANSPILER_PACKAGE} is not installed`), { code: 'ERR_MODULE_NOT_FOUND' })
  const m = (await import(pathToFileURL(path.join(dir, 'vendor', `${name}.js`)).href)) as T
  await m.$init
  return m
}

async function run(job: Job, bytes: Uint8Array): Promise<unknown> {
  if (job.op === 'inspect') {
    const { tools } = await vendor<WasmTools>('wasm-tools')
    return { wit: tools.componentWit(bytes) }
  }
  const bindgen = await vendor<Bindgen>('js-component-bindgen-component')
  const out = bindgen.generate(bytes, { name: 'component', ...job.options })
  const dir = job.outDir!
  fs.mkdirSync(dir, { recursive: true })
  const files: string[] = []
  for (const [name, data] of out.files) {
    // .mjs: the cache folder has no package.json saying the bindings are an ES module
    const file = name.endsWith('.js') ? name.replace(/\.js$/, '.mjs') : name
    if (path.basename(file) !== file) throw new Error(`the transpiler wrote an unexpected path ${name}`)
    writeSynced(path.join(dir, file), file.endsWith('.mjs') ? Buffer.from(patchBindings(Buffer.from(data).toString('utf8'))) : data)
    files.push(file)
  }
  return { files, imports: out.imports, exports: out.exports.map(([name]) => name) }
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job
let answer: unknown
try {
  answer = await run(job, await readStdin())
} catch (e) {
  answer = { error: e instanceof Error ? e.message : String(e), code: (e as { code?: string })?.code }
}
process.stdout.write(`${JSON.stringify(answer)}\n`)
