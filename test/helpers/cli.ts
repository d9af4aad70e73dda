// Runs the kindling CLI as a user would: a real child process (through tsx, from the sources), with
// an environment that names no gateway unless the test says so.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '../../runtime/version.js'

export const CLI_MAIN = path.join(REPO_ROOT, 'runtime', 'cli', 'main.ts')
/** tsx by URL, so that the CLI can run in any folder (a stack.yml's) */
const TSX = import.meta.resolve('tsx')

export interface CliResult {
  code: number | null
  out: string
  err: string
}

/** process.env without the variables that would pick a gateway or credentials for the CLI */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.OPENFAAS_URL
  delete env.KINDLING_DATA_DIR
  return { ...env, ...extra }
}

/** Runs one command to its end (in the repo unless cwd is given). */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI_MAIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: cliEnv(opts.env),
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** Starts a command that keeps running (logs -f, invoke with a streamed body). */
export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess & { output(): string; errors(): string } {
  const child = spawn(process.execPath, ['--import', TSX, CLI_MAIN, ...args], { cwd: REPO_ROOT, env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  return Object.assign(child, { output: () => out, errors: () => err })
}

/** Waits (bounded) until check() holds. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** true when rustc can build for wasm32-wasi (Debian: rustc + libstd-rust-dev-wasm32) */
export function rustWasiAvailable(rustc = '/usr/bin/rustc'): boolean {
  if (!fs.existsSync(rustc)) return false
  const r = spawnSync(rustc, ['--print', 'sysroot'], { encoding: 'utf8' })
  return r.status === 0 && fs.existsSync(path.join(r.stdout.trim(), 'lib', 'rustlib', 'wasm32-wasi'))
}
