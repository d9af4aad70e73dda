// How kindling starts helper programs (crun, nsenter, mkfifo): in this process, or through the
// spawner process. Both give the same child-like object, so callers do not care which.
import { spawn } from 'node:child_process'
import type { EventEmitter } from 'node:events'
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import type { Readable, Writable } from 'node:stream'

/** The part of ChildProcess callers use. */
export interface ChildLike extends EventEmitter {
  readonly pid?: number | undefined
  readonly stdin: Writable | null
  readonly stdout: Readable | null
  readonly stderr: Readable | null
  /** index 0 is stdin, then the output pipes (stdio[3] is fd 3) */
  readonly stdio: readonly (Readable | Writable | null | undefined)[]
  kill(signal?: NodeJS.Signals | number): boolean
}

export interface LaunchOptions {
  /** not connected, a pipe, or a FIFO whose read end the child gets (a writer must be open already) */
  stdin: 'ignore' | 'pipe' | { fifo: string }
  /** output pipes: 1 = stdout, 2 = + stderr, 3 = + fd 3 */
  outputs: number
  env?: NodeJS.ProcessEnv
}

export interface CommandResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

export interface Launcher {
  spawn(cmd: string, args: string[], opts: LaunchOptions): ChildLike
  /** runs to completion, collecting stdout and stderr (no shell) */
  run(cmd: string, args: string[], opts?: { input?: string | Buffer; timeoutMs?: number }): Promise<CommandResult>
}

/** Collects a child's output and exit; shared by both launchers. */
export function runWith(launcher: Launcher, cmd: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    let stdout = ''
    let stderr = ''
    let child: ChildLike
    try {
      child = launcher.spawn(cmd, args, { stdin: opts.input === undefined ? 'ignore' : 'pipe', outputs: 2 })
    } catch (e) {
      resolve({ code: 127, signal: null, stdout: '', stderr: (e as Error).message, ms: 0 })
      return
    }
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', (e: Error) => (stderr += e.message))
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {})
      child.stdin!.end(opts.input)
    }
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (timer) clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 })
    })
  })
}

/** Starts programs from this process (its fork blocks this event loop for the fork's duration). */
export const localLauncher: Launcher = {
  spawn(cmd, args, opts) {
    let fifoFd: number | undefined
    try {
      if (typeof opts.stdin === 'object') fifoFd = fs.openSync(opts.stdin.fifo, fs.constants.O_RDONLY)
      const stdin = fifoFd ?? (opts.stdin === 'pipe' ? 'pipe' : 'ignore')
      return spawn(cmd, args, { stdio: [stdin, ...Array.from({ length: opts.outputs }, () => 'pipe' as const)], env: opts.env })
    } finally {
      if (fifoFd !== undefined) fs.closeSync(fifoFd)
    }
  },
  run(cmd, args, opts) {
    return runWith(localLauncher, cmd, args, opts)
  },
}
