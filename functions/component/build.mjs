// Builds the example wasi:http component from C, offline: clang compiles http-echo.c to a core
// module (no libc, so it imports nothing but wasi:http and wasi:io), then wasm-tools (shipped
// inside @bytecodealliance/jco-transpile) embeds the interface from wit/http.wit and wraps the
// module into a component. No preview1 adapter is needed. Every step is deterministic for a given
// clang and jco-transpile, so functions/build.mjs --check can compare bytes.
//   node functions/component/build.mjs     writes functions/component/http-echo.wasm
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const here = path.dirname(new URL(import.meta.url).pathname)

/** What this script builds: output file name -> C source, WIT world. */
export const COMPONENTS = [{ out: 'http-echo.wasm', src: 'http-echo.c', world: 'kindling:example/http-echo' }]

async function wasmTools() {
  // the package's exports list no vendor file: load it by path
  const pkg = path.join(here, '..', '..', 'node_modules', '@bytecodealliance', 'jco-transpile')
  const m = await import(pathToFileURL(path.join(pkg, 'vendor', 'wasm-tools.js')).href)
  await m.$init
  return m.tools
}

/** Builds every component into outDir; returns the file names written. */
export async function buildComponents(outDir) {
  const tools = await wasmTools()
  const wit = fs.readFileSync(path.join(here, 'wit', 'http.wit'), 'utf8')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-component-'))
  try {
    for (const c of COMPONENTS) {
      const core = path.join(tmp, `${c.out}.core`)
      // the source is named relative to this folder, so the output does not depend on the checkout's path
      execFileSync('clang', ['--target=wasm32', '-nostdlib', '-O2', '-Wall', '-Werror', '-Wl,--no-entry', '-Wl,--strip-all', c.src, '-o', core], { stdio: 'inherit', cwd: here })
      const embedded = tools.componentEmbed({ binary: fs.readFileSync(core), witSource: wit, world: c.world, stringEncoding: 'utf8' })
      fs.writeFileSync(path.join(outDir, c.out), tools.componentNew(embedded, undefined))
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return COMPONENTS.map((c) => c.out)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const built = await buildComponents(here)
  console.log(`built ${built.join(', ')} into ${path.relative(process.cwd(), here) || '.'}`)
}
