// Drives an OCI runtime (crun, or runc as the drop-in fallback) through its command line. Both
// take the same config.json and the same verbs; only crun is needed by the tier.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { type ChildLike, type CommandResult, type Launcher, localLauncher } from '../spawner/launcher.js'

export type { CommandResult } from '../spawner/launcher.js'

export type RuntimeName = 'crun' | 'runc'

/** Runs a command to completion in this process and collects its output (no shell). */
export function runCommand(cmd: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CommandResult> {
  return localLauncher.run(cmd, args, opts)
}

function crunRundir(bin: string): string | undefined {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 })
    const m = /^rundir:\s*(\S+)/m.exec(out)
    return m ? m[1] : undefined
  } catch {
    return undefined
  }
}

/** Finds an executable on PATH (and in the sbin folders, where Debian puts runc). */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']
  for (const d of dirs) {
    if (!d) continue
    const p = path.join(d, name)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      if (fs.statSync(p).isFile()) return p
    } catch {
      // keep looking
    }
  }
  return undefined
}

export interface ContainerListEntry {
  id: string
  pid: number
  status: string
  bundle: string
}

export class RuntimeError extends Error {
  constructor(
    readonly verb: string,
    readonly result: CommandResult,
  ) {
    super(`${verb} failed (exit ${result.code ?? result.signal}): ${result.stderr.trim() || result.stdout.trim()}`)
    this.name = 'RuntimeError'
  }
}

export class OciRuntime {
  /** crun's state folder (its `--version` prints it as "rundir"); undefined for runc */
  readonly stateRoot: string | undefined

  constructor(
    readonly name: RuntimeName,
    readonly bin: string,
    /** where crun processes are started: the tier passes its spawner, so no fork blocks the gateway */
    private launcher: Launcher = localLauncher,
  ) {
    this.stateRoot = name === 'crun' ? crunRundir(bin) : undefined
  }

  useLauncher(launcher: Launcher): void {
    this.launcher = launcher
  }

  /** Where helper programs (mount, umount) are started: the spawner once the tier has one. */
  launcherOf(): Launcher {
    return this.launcher
  }

  /**
   * Starts a created container. For crun this does in-process exactly what `crun start` does
   * (open <rundir>/<id>/exec.fifo for writing, unlink it, write one byte: the container's init,
   * blocked reading that FIFO since `create`, then execs the process), which saves starting a crun
   * process (~5 ms) on the critical path. Containers with hooks and runc use the CLI.
   */
  async startFast(id: string, hasHooks = false): Promise<'fifo' | 'cli'> {
    if (this.stateRoot && !hasHooks) {
      const fifo = path.join(this.stateRoot, id, 'exec.fifo')
      let fd: number | undefined
      try {
        // O_NONBLOCK: fails with ENXIO instead of hanging if the init is not waiting on it
        fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
        fs.unlinkSync(fifo)
        fs.writeSync(fd, Buffer.alloc(1))
        return 'fifo'
      } catch {
        // not where crun 1.x keeps it: fall back to the CLI
      } finally {
        if (fd !== undefined) fs.closeSync(fd)
      }
    }
    await this.start(id)
    return 'cli'
  }

  /**
   * Starts `create` with the FIFO's read end as stdin and `outputs` pipes (stdout, stderr, fd 3...);
   * the container inherits them.
   */
  spawnCreate(id: string, bundle: string, io: { stdinFifo: string; outputs: number }, opts: { pidFile?: string; preserveFds?: number } = {}): ChildLike {
    const args = ['create', '--bundle', bundle]
    if (opts.pidFile) args.push('--pid-file', opts.pidFile)
    if (opts.preserveFds) args.push('--preserve-fds', String(opts.preserveFds))
    args.push(id)
    return this.launcher.spawn(this.bin, args, { stdin: { fifo: io.stdinFifo }, outputs: io.outputs })
  }

  /** Starts `run --detach`: create and start in one process, stdout and stderr inherited by the container. */
  spawnRunDetached(id: string, bundle: string, opts: { pidFile?: string } = {}): ChildLike {
    const args = ['run', '--detach', '--bundle', bundle]
    if (opts.pidFile) args.push('--pid-file', opts.pidFile)
    args.push(id)
    return this.launcher.spawn(this.bin, args, { stdin: 'ignore', outputs: 2 })
  }

  /** Any other program the tier starts on the call path (nsenter for the HTTP forwarder). */
  spawnHelper(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildLike {
    return this.launcher.spawn(cmd, args, { stdin: 'pipe', outputs: 2, env })
  }

  async start(id: string): Promise<CommandResult> {
    const r = await this.launcher.run(this.bin, ['start', id])
    if (r.code !== 0) throw new RuntimeError('start', r)
    return r
  }

  /** Sends a signal to the container's init (SIGKILL ends the whole PID namespace). */
  async kill(id: string, signal = 'KILL'): Promise<CommandResult> {
    return this.launcher.run(this.bin, ['kill', id, signal])
  }

  /** Deletes the container, killing it first when it still runs; removes its cgroup. */
  async delete(id: string): Promise<CommandResult> {
    return this.launcher.run(this.bin, this.name === 'runc' ? ['delete', '--force', id] : ['delete', '-f', id])
  }

  async pause(id: string): Promise<void> {
    const r = await this.launcher.run(this.bin, ['pause', id])
    if (r.code !== 0) throw new RuntimeError('pause', r)
  }

  async resume(id: string): Promise<void> {
    const r = await this.launcher.run(this.bin, ['resume', id])
    if (r.code !== 0) throw new RuntimeError('resume', r)
  }

  async list(): Promise<ContainerListEntry[]> {
    const r = await this.launcher.run(this.bin, ['list', '--format', 'json'])
    if (r.code !== 0) return []
    const text = r.stdout.trim()
    if (!text || text === 'null') return []
    try {
      const arr = JSON.parse(text) as { id: string; pid: number; status: string; bundle: string }[]
      return (arr ?? []).map((c) => ({ id: c.id, pid: c.pid, status: c.status, bundle: c.bundle }))
    } catch {
      return []
    }
  }
}
