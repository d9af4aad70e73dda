// Sandbox processes of the `process` tier started ahead of need, as SOCK's zygotes avoid a runtime
// start on the critical path: a new sandbox takes a booted Node process and only loads its function
// (LOAD + SPAWN frames, about a millisecond) instead of waiting for `node` to start (~80 ms).
// The heap limit and the cgroup are fixed when a process starts, so spares are kept per memory
// limit in use.
import { HostProcess } from '../apphost/host-process.js'
import type { MemoryCgroup, MemoryCgroups } from './cgroup.js'

const MiB = 1024 * 1024

export interface ProcessSizing {
  /** --max-old-space-size of the process */
  heapMiB: number
  /** the cgroup's memory limit: wasm memory + heap + Node's own baseline */
  cgroupBytes: number
}

/** One started sandbox process with its cgroup. */
export interface SandboxProcess {
  host: HostProcess
  cgroup: MemoryCgroup | undefined
  /** the last stderr lines of the process (why it died) */
  stderrTail: string[]
  /** who gets the process's stderr lines once it serves a function */
  onStderr: ((line: string) => void) | undefined
  /** read when the process exited, before its cgroup was removed */
  oomKilled: boolean
}

export class ProcessSpares {
  private readonly spares = new Map<number, SandboxProcess[]>()
  private readonly users = new Map<number, number>()
  private fillScheduled = false
  private closed = false
  /** processes started, spares included */
  started = 0

  constructor(
    private readonly count: number,
    private readonly sizing: (memoryMiB: number) => ProcessSizing,
    private readonly cgroups: MemoryCgroups,
  ) {}

  /** Starts a sandbox process sized for functions with this memory limit. */
  start(memoryMiB: number): SandboxProcess {
    const size = this.sizing(memoryMiB)
    this.started++
    const proc: SandboxProcess = { host: undefined as unknown as HostProcess, cgroup: undefined, stderrTail: [], onStderr: undefined, oomKilled: false }
    proc.host = new HostProcess({
      heapMiB: size.heapMiB,
      kinds: [],
      onStderr: (line) => {
        proc.stderrTail.push(line)
        if (proc.stderrTail.length > 20) proc.stderrTail.shift()
        proc.onStderr?.(line)
      },
    })
    const pid = proc.host.pid
    if (pid) proc.cgroup = this.cgroups.create(pid, size.cgroupBytes)
    proc.host.once('exit', () => {
      proc.oomKilled = proc.cgroup?.oomKilled() ?? false
      proc.cgroup?.remove()
    })
    return proc
  }

  addUser(memoryMiB: number): void {
    this.users.set(memoryMiB, (this.users.get(memoryMiB) ?? 0) + 1)
    this.scheduleFill()
  }

  removeUser(memoryMiB: number): void {
    const n = (this.users.get(memoryMiB) ?? 1) - 1
    if (n > 0) {
      this.users.set(memoryMiB, n)
      return
    }
    this.users.delete(memoryMiB)
    for (const p of this.spares.get(memoryMiB) ?? []) void p.host.stop()
    this.spares.delete(memoryMiB)
  }

  /** A live (possibly still booting) process: a spare when there is one, else a new one. */
  take(memoryMiB: number): SandboxProcess {
    const list = this.spares.get(memoryMiB) ?? []
    let spare: SandboxProcess | undefined
    while ((spare = list.shift()) && !spare.host.alive) {
      // a spare that died while waiting is skipped
    }
    this.scheduleFill()
    return spare ?? this.start(memoryMiB)
  }

  private scheduleFill(): void {
    if (this.fillScheduled || this.closed) return
    this.fillScheduled = true
    // off the critical path of the spawn that took a spare
    setImmediate(() => {
      this.fillScheduled = false
      if (this.closed) return
      for (const memoryMiB of this.users.keys()) {
        let list = this.spares.get(memoryMiB)
        if (!list) this.spares.set(memoryMiB, (list = []))
        for (let i = list.length - 1; i >= 0; i--) if (!list[i]!.host.alive) list.splice(i, 1)
        while (list.length < this.count) list.push(this.start(memoryMiB))
      }
    })
  }

  get size(): number {
    let n = 0
    for (const l of this.spares.values()) n += l.length
    return n
  }

  async close(): Promise<void> {
    this.closed = true
    const all = [...this.spares.values()].flat()
    this.spares.clear()
    await Promise.all(all.map((p) => p.host.stop()))
  }
}

export function mib(bytes: number): number {
  return Math.ceil(bytes / MiB)
}
