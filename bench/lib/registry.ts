// Which scopes the runner knows. Scopes written here live in bench/scopes/<name>.ts. Scopes that
// other folders own (bench/tiers, bench/container, bench/component, bench/ops) are found at run
// time: bench/<name>/scope.ts exporting run(ctx); until then a known stand-alone script of that
// folder is run as a child process; until that exists, the scope is "not available yet".
import fs from 'node:fs'
import path from 'node:path'
import { runningFromSource } from '../../isolation/index.js'

export interface ScopeInfo {
  name: string
  about: string
  /** in bench/scopes (ours) or in its own folder (another engineer's) */
  owner: 'runner' | 'folder'
}

export const SCOPES: readonly ScopeInfo[] = [
  { name: 'coldstart', about: 'code-cold, instance-cold (phases) and warm per tier and function, in-process and over HTTP, beside the raw primitive', owner: 'runner' },
  { name: 'load', about: 'throughput and latency under load (autocannon in its own process, 1 and 50 connections) beside a raw fastify route', owner: 'runner' },
  { name: 'density', about: 'idle sandboxes held at once per tier, RSS and PSS per sandbox', owner: 'runner' },
  { name: 'churn', about: 'open-loop arrival-rate sweep where every request needs a new sandbox (Faasm Fig. 10)', owner: 'runner' },
  { name: 'peers', about: 'workerd and a bare node:http server beside every kindling tier: echo and a sha256 wasm kernel, 1 and 50 connections (autocannon in its own process)', owner: 'runner' },
  { name: 'cluster', about: 'sync calls through a cluster gateway to 1, 2 and 3 workers on NATS, over direct HTTP and NATS request/reply, beside the embedded single node (the hop)', owner: 'runner' },
  { name: 'chain', about: 'one function calling another function of the same application', owner: 'runner' },
  { name: 'tiers', about: 'thread and process tiers: spawn and interruption cost (bench/tiers/)', owner: 'folder' },
  { name: 'container', about: 'crun / runc / podman / docker / runsc comparisons (bench/container/)', owner: 'folder' },
  { name: 'component', about: 'WebAssembly components (bench/component/)', owner: 'folder' },
  { name: 'ops', about: 'operations: deploy, restart, scale (bench/ops/)', owner: 'folder' },
]

/** A stand-alone script of another folder, and how its usage line says to run it. */
export interface ScriptFallback {
  file: string
  /** 'dist': node dist/bench/<folder>/<file>.js; 'source': node --import tsx bench/<folder>/<file> */
  from: 'dist' | 'source'
}

/** Stand-alone scripts to run (full mode only) until a folder has its scope.ts. */
export const SCRIPT_FALLBACKS: Readonly<Record<string, readonly ScriptFallback[]>> = {
  container: [{ file: 'coldstart.ts', from: 'source' }],
  tiers: [{ file: 'run.ts', from: 'dist' }],
  component: [{ file: 'run.ts', from: 'dist' }],
  ops: [
    { file: 'scale-from-zero.ts', from: 'source' },
    { file: 'async-throughput.ts', from: 'source' },
  ],
}

const EXPORTS_RUN = /export\s+(async\s+)?function\s+run\s*\(|export\s+(const|let)\s+run\s*[:=]/

export type ScopeLocation =
  | { kind: 'module'; file: string }
  | { kind: 'scripts'; files: ScriptFallback[] }
  | { kind: 'missing'; reason: string }

/**
 * Where a scope's code is: a module exporting run (its compiled .js next to this runner), stand-alone
 * scripts to run as child processes, or nothing yet. `srcRoot` is the checkout, `codeRoot` where
 * the runner's own modules are (dist/ when built).
 */
export function locateScope(info: ScopeInfo, srcRoot: string, codeRoot: string): ScopeLocation {
  const ext = runningFromSource(import.meta.url) ? '.ts' : '.js'
  if (info.owner === 'runner') return { kind: 'module', file: path.join(codeRoot, 'bench', 'scopes', `${info.name}${ext}`) }
  const dir = path.join(srcRoot, 'bench', info.name)
  if (!fs.existsSync(dir)) return { kind: 'missing', reason: `not available yet: bench/${info.name}/ does not exist` }
  const scopeSrc = path.join(dir, 'scope.ts')
  if (fs.existsSync(scopeSrc) && EXPORTS_RUN.test(fs.readFileSync(scopeSrc, 'utf8'))) {
    const compiled = path.join(codeRoot, 'bench', info.name, `scope${ext}`)
    if (fs.existsSync(compiled)) return { kind: 'module', file: compiled }
    return { kind: 'missing', reason: `bench/${info.name}/scope.ts is not built yet (npm run build)` }
  }
  const files = (SCRIPT_FALLBACKS[info.name] ?? []).filter((f) => fs.existsSync(path.join(dir, f.file))).map((f) => ({ ...f, file: path.join(dir, f.file) }))
  if (files.length) return { kind: 'scripts', files }
  return { kind: 'missing', reason: `not available yet: bench/${info.name}/ has no scope.ts exporting run(ctx)` }
}
