// `kindling build`: builds the functions of a stack file that have a handler folder (as `kindling
// new` writes them) into <handler>/build/<name>.wasm, with the build file <handler>/build.yml:
// clang (C), rustc (Rust), asc (AssemblyScript), esbuild + componentize-js (JavaScript, a wasi:http
// component). A hash of the sources, the build file and the toolchain is kept beside the output
// (<name>.wasm.source-sha256), so an unchanged function is not built again.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import type { Config } from '../config.js'
import { REPO_ROOT } from '../version.js'
import { CliError } from './client.js'
import { KEYVALUE_VERSION } from '../../isolation/component/interfaces.js'
import type { Stack, StackFunction } from './stack.js'

export const LANGS = ['c', 'rust', 'assemblyscript', 'js'] as const
export type Lang = (typeof LANGS)[number]

export function isLang(s: unknown): s is Lang {
  return typeof s === 'string' && (LANGS as readonly string[]).includes(s)
}

/** The build file of a function folder. */
interface BuildFile {
  lang: Lang
  sources?: string[]
  main?: string
  entry?: string
  flags?: string[]
}

/** One function of a stack that kindling builds. */
export interface BuildTarget {
  name: string
  lang: Lang
  /** absolute path of the handler folder */
  dir: string
  /** absolute path of the .wasm the stack's image names */
  out: string
}

export interface BuildResult {
  target: BuildTarget
  built: boolean
  bytes: number
}

const BUILD_FILE = 'build.yml'
const OUTPUT_DIR = 'build'
/**
 * The wasi:http version componentize-js's engine (StarlingMonkey) exports its fetch-event handler
 * at; the world we give it must name the same one (the kindling host takes any 0.2.x).
 */
const JS_HTTP_VERSION = '0.2.10'

const KEYVALUE_WIT = path.join(REPO_ROOT, 'isolation', 'component', 'wit', 'keyvalue.wit')

/** The functions of a stack that have a lang and a handler folder. */
export function buildTargets(stack: Stack): BuildTarget[] {
  const out: BuildTarget[] = []
  for (const [name, f] of stack.functions) {
    if (!f.lang && !f.handler) continue
    out.push(targetOf(stack, name, f))
  }
  return out
}

function targetOf(stack: Stack, name: string, f: StackFunction): BuildTarget {
  if (!isLang(f.lang)) throw new CliError(`${stack.file}: function ${name} has lang "${f.lang ?? ''}"; kindling builds ${LANGS.join(', ')}`)
  if (!f.handler) throw new CliError(`${stack.file}: function ${name} has no handler folder; add "handler: ./${name}"`)
  if (!f.image?.endsWith('.wasm')) throw new CliError(`${stack.file}: function ${name} must name its build output as image, e.g. "image: ./${name}/${OUTPUT_DIR}/${name}.wasm"`)
  return { name, lang: f.lang, dir: path.resolve(stack.dir, f.handler), out: path.resolve(stack.dir, f.image) }
}

function readBuildFile(t: BuildTarget): BuildFile {
  const file = path.join(t.dir, BUILD_FILE)
  if (!fs.existsSync(file)) throw new CliError(`${t.name}: ${file} is missing. Write it (see templates/${t.lang}/${BUILD_FILE}) or start again with "kindling new ${t.name} --lang ${t.lang}".`)
  const b = YAML.parse(fs.readFileSync(file, 'utf8')) as BuildFile
  if (b?.lang !== t.lang) throw new CliError(`${t.name}: ${file} says lang ${String(b?.lang)} but the stack says ${t.lang}; make them agree`)
  if (b.flags !== undefined && (!Array.isArray(b.flags) || b.flags.some((x) => typeof x !== 'string'))) throw new CliError(`${file}: flags must be a list of strings`)
  return b
}

/** Every file of the handler folder but the build output, in a stable order. */
function sourceFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) {
        if (d === dir && (e.name === OUTPUT_DIR || e.name === 'node_modules')) continue
        walk(p)
      } else if (e.isFile()) out.push(p)
    }
  }
  walk(dir)
  return out
}

/** The hash of what decides the output: sources, build file, lang, toolchain. */
function sourceHash(t: BuildTarget, toolchain: string): string {
  const h = createHash('sha256').update(`${t.lang}\0${toolchain}\0`)
  for (const f of sourceFiles(t.dir)) h.update(`${path.relative(t.dir, f)}\0`).update(fs.readFileSync(f)).update('\0')
  return h.digest('hex')
}

const hashFileOf = (t: BuildTarget) => `${t.out}.source-sha256`

function run(t: BuildTarget, cmd: string, args: string[], what: string): void {
  try {
    execFileSync(cmd, args, { cwd: t.dir, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' })
  } catch (e) {
    const err = e as { code?: string; stderr?: string; status?: number }
    if (err.code === 'ENOENT') throw new CliError(`${t.name}: ${cmd} is not installed. ${what}`)
    throw new CliError(`${t.name}: the ${t.lang} build failed (${cmd} exited with ${err.status ?? err.code}):\n${(err.stderr ?? '').trimEnd()}\nFix the error above in ${t.dir} and run "kindling build ${t.name}" again.`)
  }
}

function toolVersion(cmd: string): string {
  try {
    return execFileSync(cmd, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim()
  } catch {
    return 'unknown'
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'missing'
  }
}

function toolchainOf(lang: Lang, config: Config): string {
  switch (lang) {
    case 'c':
      return toolVersion(config.clangPath)
    case 'rust':
      return toolVersion(config.rustcPath)
    case 'assemblyscript':
      return `asc ${packageVersion('assemblyscript')}`
    case 'js':
      // the world's wasi:keyvalue WIT too: a new draft rebuilds the functions that import it
      return `componentize-js ${packageVersion('@bytecodealliance/componentize-js')} esbuild ${packageVersion('esbuild')} wasi:keyvalue@${KEYVALUE_VERSION}`
  }
}

function buildC(t: BuildTarget, b: BuildFile, config: Config): void {
  const sources = b.sources ?? ['handler.c']
  run(t, config.clangPath, ['--target=wasm32-wasi', ...(b.flags ?? []), ...sources, '-o', t.out], 'Install clang and wasi-libc (Debian: apt-get install clang lld wasi-libc), or set KINDLING_CLANG.')
}

function buildRust(t: BuildTarget, b: BuildFile, config: Config): void {
  if (!fs.existsSync(config.rustcPath) && path.isAbsolute(config.rustcPath)) {
    throw new CliError(`${t.name}: ${config.rustcPath} is not installed. Install Debian's rustc and its wasm32-wasi standard library (apt-get install rustc libstd-rust-dev-wasm32), or set KINDLING_RUSTC.`)
  }
  run(t, config.rustcPath, ['--target', 'wasm32-wasi', '--crate-type', 'bin', '--crate-name', t.name.replace(/[^A-Za-z0-9_]/g, '_'), ...(b.flags ?? []), b.main ?? 'handler.rs', '-o', t.out], 'Install rustc with the wasm32-wasi target (Debian: apt-get install rustc libstd-rust-dev-wasm32), or set KINDLING_RUSTC.')
}

function buildAssemblyScript(t: BuildTarget, b: BuildFile): void {
  const asc = path.join(REPO_ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js')
  if (!fs.existsSync(asc)) throw new CliError(`${t.name}: asc is missing from ${REPO_ROOT}/node_modules; run "npm install" in ${REPO_ROOT}.`)
  run(t, process.execPath, [asc, b.entry ?? 'handler.ts', ...(b.flags ?? []), '--exportRuntime', '-o', t.out], '')
}

/**
 * The WIT world the JS component targets: it exports wasi:http/incoming-handler, whose definition
 * (and the WASI packages it uses) comes from the WIT files jco ships; no file is copied into the repo.
 */
function jsWitDir(tmp: string): string {
  const builtin = path.join(REPO_ROOT, 'node_modules', '@bytecodealliance', 'jco', 'lib', 'wit', 'builtin', '0.2.12')
  if (!fs.existsSync(builtin)) throw new CliError(`the WASI interface files of @bytecodealliance/jco are missing (${builtin}); run "npm install" in ${REPO_ROOT}.`)
  const wit = path.join(tmp, 'wit')
  for (const pkg of fs.readdirSync(builtin)) {
    let text = fs.readFileSync(path.join(builtin, pkg, 'package.wit'), 'utf8')
    // the engine's handler is wasi:http@0.2.10 (over wasi:io@0.2.12): name the package as it does
    if (pkg === 'wasi-http') text = text.replace(/wasi:http(\/[a-z-]+)?@0\.2\.12/g, (_m, item: string | undefined) => `wasi:http${item ?? ''}@${JS_HTTP_VERSION}`)
    fs.mkdirSync(path.join(wit, 'deps', pkg), { recursive: true })
    fs.writeFileSync(path.join(wit, 'deps', pkg, 'package.wit'), text)
  }
  // wasi:keyvalue (the draft kindling hosts): a handler may import 'wasi:keyvalue/store@0.2.0-draft2'
  fs.mkdirSync(path.join(wit, 'deps', 'wasi-keyvalue'), { recursive: true })
  fs.copyFileSync(KEYVALUE_WIT, path.join(wit, 'deps', 'wasi-keyvalue', 'package.wit'))
  fs.writeFileSync(path.join(wit, 'world.wit'), `package kindling:function;\n\nworld handler {\n  include wasi:keyvalue/imports@${KEYVALUE_VERSION};\n  export wasi:http/incoming-handler@${JS_HTTP_VERSION};\n}\n`)
  return wit
}

async function buildJs(t: BuildTarget, b: BuildFile): Promise<void> {
  const entry = path.resolve(t.dir, b.entry ?? 'handler.js')
  if (!fs.existsSync(entry)) throw new CliError(`${t.name}: ${entry} does not exist; name the handler file as entry in ${path.join(t.dir, BUILD_FILE)}`)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-js-'))
  try {
    // the developer's module exports { fetch }; StarlingMonkey dispatches requests as fetch events
    const wrapper = path.join(tmp, 'main.js')
    fs.writeFileSync(
      wrapper,
      `import handler from ${JSON.stringify(entry)}\n` +
        `if (typeof handler?.fetch !== 'function') throw new Error('${path.basename(entry)} must export default { fetch(request) { ... } }')\n` +
        `addEventListener('fetch', (event) => event.respondWith(Promise.resolve().then(() => handler.fetch(event.request))))\n`,
    )
    const { build } = await import('esbuild')
    const bundle = path.join(tmp, 'bundle.js')
    try {
      // wasi:* imports are the component's imports, bound by componentize-js
      await build({ entryPoints: [wrapper], bundle: true, format: 'esm', platform: 'neutral', outfile: bundle, logLevel: 'silent', external: ['wasi:*'] })
    } catch (e) {
      throw new CliError(`${t.name}: the JavaScript does not bundle:\n${(e as Error).message}\nFix it in ${t.dir} and run "kindling build ${t.name}" again.`)
    }
    const { componentize } = (await import('@bytecodealliance/componentize-js')) as typeof import('@bytecodealliance/componentize-js')
    let component: Uint8Array
    try {
      ;({ component } = await componentize({ sourcePath: bundle, witPath: jsWitDir(tmp), worldName: 'handler' }))
    } catch (e) {
      throw new CliError(`${t.name}: componentize-js failed: ${(e as Error).message}\nCheck that ${path.basename(entry)} runs without Node APIs, then run "kindling build ${t.name}" again.`)
    }
    fs.writeFileSync(t.out, component)
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/** Builds one function unless its output is newer than its sources (by hash); force builds anyway. */
export async function buildOne(t: BuildTarget, config: Config, opts: { force?: boolean; log?: (s: string) => void } = {}): Promise<BuildResult> {
  const log = opts.log ?? ((s: string) => process.stdout.write(s))
  if (!fs.existsSync(t.dir)) throw new CliError(`${t.name}: the handler folder ${t.dir} does not exist; create it with "kindling new ${t.name} --lang ${t.lang}"`)
  const b = readBuildFile(t)
  const hash = sourceHash(t, toolchainOf(t.lang, config))
  const hashFile = hashFileOf(t)
  if (!opts.force && fs.existsSync(t.out) && fs.existsSync(hashFile) && fs.readFileSync(hashFile, 'utf8').trim() === hash) {
    log(`${t.name}: up to date (${path.relative(process.cwd(), t.out)})\n`)
    return { target: t, built: false, bytes: fs.statSync(t.out).size }
  }
  fs.mkdirSync(path.dirname(t.out), { recursive: true })
  fs.rmSync(hashFile, { force: true })
  const started = performance.now()
  switch (t.lang) {
    case 'c':
      buildC(t, b, config)
      break
    case 'rust':
      buildRust(t, b, config)
      break
    case 'assemblyscript':
      buildAssemblyScript(t, b)
      break
    case 'js':
      await buildJs(t, b)
      break
  }
  fs.writeFileSync(hashFile, hash + '\n')
  const bytes = fs.statSync(t.out).size
  log(`${t.name}: built ${path.relative(process.cwd(), t.out)} (${t.lang}, ${formatBytes(bytes)}, ${((performance.now() - started) / 1000).toFixed(1)} s)\n`)
  return { target: t, built: true, bytes }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** Picks the targets named on the command line (all when none is named). */
export function selectTargets(stack: Stack, names: string[]): BuildTarget[] {
  const targets = buildTargets(stack)
  if (!names.length) {
    if (!targets.length) throw new CliError(`${stack.file} has no function to build (none has lang and handler); add one with "kindling new NAME --lang c -f ${stack.file}"`)
    return targets
  }
  return names.map((n) => {
    const t = targets.find((x) => x.name === n)
    if (!t) throw new CliError(`${stack.file} has no function ${n} to build${targets.length ? ` (it builds ${targets.map((x) => x.name).join(', ')})` : ''}`)
    return t
  })
}
