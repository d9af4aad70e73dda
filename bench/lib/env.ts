// The environment record written beside every result: what machine, kernel, Node and kindling
// commit the numbers come from, so that a number is never quoted without its context.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface EnvironmentRecord {
  date: string
  command: string
  hostname: string
  cpu: { model: string; cores: number; mhz: number; flags?: string }
  memory: { totalMiB: number; availableMiB: number }
  kernel: { release: string; version: string }
  os: string
  node: { version: string; v8: string; execArgv: string[] }
  git: { commit: string; branch: string; dirtyFiles: number; subject: string }
  packages: Record<string, string>
  tools: Record<string, string | null>
  loadAverage: number[]
  /** environment variables that change how node starts or runs (NODE_OPTIONS, NODE_EXTRA_CA_CERTS, ...) */
  nodeEnv: Record<string, string>
  /** 'root' or a uid: container runtimes behave differently */
  user: string
}

function tryRun(cmd: string, args: string[], cwd?: string): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim()
  } catch {
    return null
  }
}

/** MemAvailable from /proc/meminfo, in bytes (os.freemem() ignores reclaimable cache). */
export function memAvailableBytes(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))
    if (m) return Number(m[1]) * 1024
  } catch {}
  return os.freemem()
}

function osName(): string {
  try {
    const m = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))
    if (m) return m[1]!
  } catch {}
  return `${os.type()} ${os.release()}`
}

/** Versions of kindling's direct dependencies as installed (not as declared). */
function packageVersions(repoRoot: string): Record<string, string> {
  const out: Record<string, string> = {}
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }
    out.kindling = pkg.version
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).sort()) {
      try {
        out[name] = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
      } catch {
        out[name] = 'not installed'
      }
    }
  } catch {}
  return out
}

function firstLine(s: string | null): string | null {
  return s === null ? null : (s.split('\n')[0] ?? '').trim()
}

export function environmentRecord(repoRoot: string, command: string): EnvironmentRecord {
  const cpus = os.cpus()
  let flags: string | undefined
  try {
    const m = /^flags\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
    // only the flags that change wasm and container numbers
    if (m) flags = m[1]!.split(' ').filter((f) => ['avx2', 'avx512f', 'sse4_2', 'hypervisor', 'pku'].includes(f)).join(' ')
  } catch {}
  const status = tryRun('git', ['status', '--porcelain'], repoRoot)
  return {
    date: new Date().toISOString(),
    command,
    hostname: os.hostname(),
    cpu: { model: cpus[0]?.model ?? 'unknown', cores: cpus.length, mhz: cpus[0]?.speed ?? 0, flags },
    memory: { totalMiB: Math.round(os.totalmem() / 1048576), availableMiB: Math.round(memAvailableBytes() / 1048576) },
    kernel: { release: os.release(), version: os.version() },
    os: osName(),
    node: { version: process.version, v8: process.versions.v8, execArgv: process.execArgv },
    git: {
      commit: tryRun('git', ['rev-parse', 'HEAD'], repoRoot) ?? 'unknown',
      branch: tryRun('git', ['rev-parse', '--abbrev-ref', 'HEAD'], repoRoot) ?? 'unknown',
      dirtyFiles: status === null ? -1 : status.split('\n').filter(Boolean).length,
      subject: tryRun('git', ['log', '-1', '--format=%s'], repoRoot) ?? '',
    },
    packages: packageVersions(repoRoot),
    tools: {
      crun: firstLine(tryRun('crun', ['--version'])),
      runc: firstLine(tryRun('runc', ['--version'])),
      runsc: firstLine(tryRun('runsc', ['--version'])),
      podman: firstLine(tryRun('podman', ['--version'])),
      docker: firstLine(tryRun('docker', ['--version'])),
      wrk: firstLine(tryRun('wrk', ['--version'])),
    },
    loadAverage: os.loadavg(),
    nodeEnv: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => /^(NODE_|UV_)/.test(e[0]) && e[1] !== undefined)),
    user: process.getuid?.() === 0 ? 'root' : String(process.getuid?.() ?? 'unknown'),
  }
}

/** One line for the top of the printed table. */
export function environmentLine(e: EnvironmentRecord): string {
  return `${e.cpu.model} x${e.cpu.cores}, ${(e.memory.totalMiB / 1024).toFixed(0)} GiB, Linux ${e.kernel.release}, Node ${e.node.version} (V8 ${e.node.v8}), kindling ${e.git.commit.slice(0, 10)}${e.git.dirtyFiles > 0 ? ` +${e.git.dirtyFiles} uncommitted` : ''}, load ${e.loadAverage.map((l) => l.toFixed(2)).join(' ')}`
}
