// Runs a wasm32-wasi command module under V8 with kindling's own WASI (isolation/wasm/wasi.ts, what
// the wasm tiers give a module), with the arguments given: R6's wasm side. Its own process, so V8
// starts cold as a new function's would. Not node:wasi: Node 20's keeps the memory's old backing
// store after memory.grow, so a kernel whose heap grows (jacobi-2d at n=1200) crashed the process
// with SIGSEGV when it flushed stdout at exit.
import fs from 'node:fs'
import { OutputBuffer, runWasiStart, WasiPreview1 } from '../../isolation/index.js'

const [file, ...args] = process.argv.slice(2)
if (!file) throw new Error('usage: wasi-main FILE.wasm ARGS...')
const wasi = new WasiPreview1()
const instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(file)), { wasi_snapshot_preview1: wasi.imports as WebAssembly.ModuleImports })
wasi.bindMemory(instance.exports.memory as WebAssembly.Memory)
const stdout = new OutputBuffer(1 << 20)
const stderr = new OutputBuffer(1 << 20)
wasi.begin({ args: [file, ...args], env: [], stdin: new Uint8Array(0), stdout, stderr, preopens: [], deadline: Infinity })
const code = runWasiStart(instance.exports)
wasi.end()
process.stdout.write(stdout.toBuffer())
process.stderr.write(stderr.toBuffer())
process.exitCode = code
