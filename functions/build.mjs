// Builds the example functions into functions/dist from their sources: C programs with clang for
// wasm32-wasi (Debian's clang + wasi-libc) and AssemblyScript modules with asc (npm).
//   node functions/build.mjs            build into functions/dist
//   node functions/build.mjs --check    build into a temp dir and fail if functions/dist differs
// The built .wasm files are committed (clang is not an npm package); CI runs --check.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildComponents } from './component/build.mjs'

const here = path.dirname(new URL(import.meta.url).pathname)
const check = process.argv.includes('--check')
const out = check ? fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-fn-')) : path.join(here, 'dist')
fs.mkdirSync(out, { recursive: true })

const CFLAGS = ['--target=wasm32-wasi', '-Wl,--strip-all', '-Wl,-z,stack-size=16384']
const C = [
  { out: 'cat', src: ['cat.c'], opt: '-Os' },
  { out: 'env', src: ['env.c'], opt: '-Os' },
  { out: 'noop', src: ['noop.c'], opt: '-Os' },
  { out: 'hello-cgi', src: ['hello-cgi.c'], opt: '-Os' },
  { out: 'read-secret', src: ['read-secret.c'], opt: '-Os' },
  // outbound HTTP through the kindling import (issue 13 item 1)
  { out: 'fetch-url', src: ['fetch-url.c'], opt: '-Os' },
  // response headers through the kindling import, without a CGI block
  { out: 'set-headers', src: ['set-headers.c'], opt: '-Os' },
  // the paper's R8: one function calling another, locally (kindling.call) or through the gateway
  { out: 'call-timer', src: ['call-timer.c'], opt: '-O2' },
  { out: 'sha512sum', src: ['sha512sum.c', 'sha.c'], opt: '-O2' },
  { out: 'sha256-64k', src: ['sha256-64k.c', 'sha.c'], opt: '-O2' },
  // the image pipeline of the paper's R9 (SAND's four stages), and its kindling.call driver
  { out: 'pipeline-extract', dir: 'pipeline', src: ['extract.c'], opt: '-O2' },
  { out: 'pipeline-transform', dir: 'pipeline', src: ['transform.c'], opt: '-O2' },
  { out: 'pipeline-handler', dir: 'pipeline', src: ['handler.c'], opt: '-O2' },
  { out: 'pipeline-thumbnail', dir: 'pipeline', src: ['thumbnail.c'], opt: '-O2' },
  { out: 'pipeline', dir: 'pipeline', src: ['pipeline.c'], opt: '-O2' },
]
const AS = ['echo', 'fib', 'reverse-bytes', 'counter', 'chain', 'kv-counter', 'set-headers-as', 'cron-tick']

// sources are named relative to functions/, so the output does not depend on where the checkout is
for (const f of C) {
  execFileSync('clang', [...CFLAGS, f.opt, ...f.src.map((s) => path.join(f.dir ?? 'c', s)), '-o', path.join(out, `${f.out}.wasm`)], { stdio: 'inherit', cwd: here })
}
const asc = path.join(here, '..', 'node_modules', '.bin', 'asc')
for (const f of AS) {
  execFileSync(asc, [path.join('assemblyscript', `${f}.ts`), '-O3', '--exportRuntime', '--noAssert', '-o', path.join(out, `${f}.wasm`)], { stdio: 'inherit', cwd: here })
}

// the wasi:http example component is committed beside its source, in functions/component
const components = await buildComponents(check ? out : path.join(here, 'component'))

// what built the C modules: byte-identical output needs the same clang and wasi-libc, so the check
// names both when it fails (functions/dist/TOOLCHAIN records the ones that built the committed files)
function toolchain() {
  const line = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim()
    } catch {
      return 'unknown'
    }
  }
  return `${line('clang', ['--version'])}\nwasi-libc ${line('dpkg-query', ['-W', '-f', '${Version}', 'wasi-libc'])}\n`
}
const toolchainFile = path.join(here, 'dist', 'TOOLCHAIN')

if (check) {
  const built = [...C.map((f) => f.out), ...AS]
  const differ = built.filter((name) => {
    const a = path.join(out, `${name}.wasm`)
    const b = path.join(here, 'dist', `${name}.wasm`)
    return !fs.existsSync(b) || !fs.readFileSync(a).equals(fs.readFileSync(b))
  })
  for (const name of components) {
    const b = path.join(here, 'component', name)
    if (!fs.existsSync(b) || !fs.readFileSync(path.join(out, name)).equals(fs.readFileSync(b))) differ.push(`component/${name}`)
  }
  fs.rmSync(out, { recursive: true, force: true })
  if (differ.length) {
    const recorded = fs.existsSync(toolchainFile) ? fs.readFileSync(toolchainFile, 'utf8') : '(not recorded)\n'
    const here_ = toolchain()
    const why = recorded === here_ ? 'the sources changed since the modules were built' : `the toolchain differs: the committed modules were built with\n${recorded}and this machine has\n${here_}`
    console.error(`functions/dist is out of date for: ${differ.join(', ')} (${why.trim()}). Run: node functions/build.mjs`)
    process.exit(1)
  }
  console.log(`functions/dist and functions/component match their sources (${built.length} modules, ${components.length} component)`)
} else {
  fs.writeFileSync(toolchainFile, toolchain())
  console.log(`built ${C.length + AS.length} modules into ${path.relative(process.cwd(), out)} and ${components.join(', ')} into functions/component`)
}
