// Sandbox processes of the `process` tier started ahead of need, as SOCK's zygotes avoid a runtime
// start on the critical path: a new sandbox takes a booted Node process and only loads its function
// (LOAD + SPAWN frames, about a millisecond) instead of waiting for `node` to start (~80 ms).
// The heap limit and the cgroup are fixed when a process starts, so spares are kept per memory
// limit in use.
import { HostProcess } from '../apphost/host-process.js'
import { FRAME } from '../apphost/protocol.js'
import type { PlanWithModule } from '../wasm/plan.js'
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
  /** settles when the process has booted and run the warm-up function */
  warmed: Promise<void>
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
    /** kindling's own noop function, run once in each spare: a first LOAD, SPAWN and call in a new
     *  process cost about twice a later one (lazy compilation of the host's code paths) */
    private readonly warmup?: PlanWithModule,
  ) {}

  /** Starts a sandbox process sized for functions with this memory limit (a spare warms up). */
  start(memoryMiB: number, spare = false): SandboxProcess {
    const size = this.sizing(memoryMiB)
    this.started++
    const proc: SandboxProcess = { host: undefined as unknown as HostProcess, cgroup: undefined, stderrTail: [], onStderr: undefined, oomKilled: false, warmed: Promise.resolve() }
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
    if (spare) proc.warmed = this.warm(proc.host)
    return proc
  }

  private async warm(host: HostProcess): Promise<void> {
    await host.ready.catch(() => {})
    const w = this.warmup
    if (!w || !host.alive) return
    const fnId = '__kindling_warmup'
    try {
      await host.request(FRAME.LOAD, { fnId, kind: 'wasm', plan: w.plan, modulePath: w.modulePath })
      await host.request(FRAME.SPAWN, { fnId, sb: fnId })
      await host.request(FRAME.INVOKE, { sb: fnId, callId: fnId, method: 'GET', path: '/', query: '', headers: {}, deadline: Date.now() + 1000 }, undefined, { at: Date.now() + 1000, graceMs: 1000 })
      await host.request(FRAME.DISPOSE, { sb: fnId })
      await host.request(FRAME.UNLOAD, { fnId })
    } catch {
      // a spare that cannot warm up still serves; one that died is skipped by take()
    }
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
    // the taker calls refill() once its spawn is done: starting a process blocks this thread for
    // milliseconds (fork of a large parent), which must not land on the spawn's critical path
    return spare ?? this.start(memoryMiB)
  }

  /** Starts the spares that are missing, soon (after a spawn took one). */
  refill(): void {
    this.scheduleFill()
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
        while (list.length < this.count) list.push(this.start(memoryMiB, true))
      }
    })
  }

  /** Settles when every spare started so far has booted (benchmarks wait on this between samples). */
  async ready(): Promise<void> {
    await new Promise((r) => setImmediate(r))
    await Promise.all([...this.spares.values()].flat().map((p) => p.warmed))
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
