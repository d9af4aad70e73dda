// Runs a wasm32-wasi command module under V8 (node:wasi), with the arguments given: R6's wasm
// side. Its own process, so the module's stdout is the child's and V8 starts cold as a new
// function's would.
import fs from 'node:fs'
import { WASI } from 'node:wasi'

const [file, ...args] = process.argv.slice(2)
if (!file) throw new Error('usage: wasi-main FILE.wasm ARGS...')
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {} })
const instance = await WebAssembly.instantiate(new WebAssembly.Module(fs.readFileSync(file)), wasi.getImportObject() as WebAssembly.Imports)
process.exitCode = wasi.start(instance)
