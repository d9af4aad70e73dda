// A memory cgroup per sandbox process of the `process` tier, as the backstop behind the V8 heap
// limit and the wasm memory limit (a native leak or a runaway allocation outside V8's heap).
// The cgroups are made inside the gateway's own memory cgroup, never beside it: a sandbox process
// stays under every limit its gateway runs under. cgroup v1 (memory controller), or v2 when the
// gateway's cgroup delegates the memory controller; without root or a writable hierarchy the tier
// runs without them and says why.
import fs from 'node:fs'
import path from 'node:path'

const PREFIX = 'kindling-proc-'

export interface MemoryCgroup {
  dir: string
  /** the kernel OOM killer killed a process in this cgroup */
  oomKilled(): boolean
  /** removes the cgroup once its process has exited (a cgroup with processes cannot be removed) */
  remove(): void
}

export class MemoryCgroups {
  /** where this gateway's sandbox cgroups go, or undefined */
  readonly parent: string | undefined
  readonly version: 1 | 2 | undefined
  /** why there are no cgroups, or null when there are */
  readonly reason: string | null
  private seq = 0

  constructor(procRoot = '/proc', cgroupRoot = '/sys/fs/cgroup') {
    const found = locate(procRoot, cgroupRoot)
    this.parent = found.parent
    this.version = found.version
    this.reason = found.reason
    if (this.parent) sweepStale(this.parent)
  }

  /** A new cgroup limited to limitBytes with pid in it; undefined when cgroups are unavailable. */
  create(pid: number, limitBytes: number): MemoryCgroup | undefined {
    if (!this.parent) return undefined
    const dir = path.join(this.parent, `${PREFIX}${process.pid}-${++this.seq}`)
    try {
      fs.mkdirSync(dir)
      if (this.version === 1) {
        fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes))
        // no swap beyond the limit where swap accounting exists
        trySet(path.join(dir, 'memory.memsw.limit_in_bytes'), String(limitBytes))
      } else {
        fs.writeFileSync(path.join(dir, 'memory.max'), String(limitBytes))
        trySet(path.join(dir, 'memory.swap.max'), '0')
      }
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid))
    } catch {
      // the process may have exited already; leave no empty cgroup behind
      rmdirQuiet(dir)
      return undefined
    }
    const version = this.version
    return {
      dir,
      oomKilled: () => oomKills(dir, version) > 0,
      remove: () => rmdirQuiet(dir),
    }
  }
}

function locate(procRoot: string, cgroupRoot: string): { parent?: string; version?: 1 | 2; reason: string | null } {
  if (process.platform !== 'linux') return { reason: 'cgroups need Linux' }
  if (process.getuid?.() !== 0) return { reason: 'memory cgroups need root' }
  let own = ''
  try {
    own = fs.readFileSync(path.join(procRoot, 'self', 'cgroup'), 'utf8')
  } catch {
    return { reason: `cannot read ${procRoot}/self/cgroup` }
  }
  const lines = own.split('\n').map((l) => l.split(':'))
  const v1 = lines.find((l) => l[1]?.split(',').includes('memory'))
  let parent: string | undefined
  let version: 1 | 2 | undefined
  if (v1 && fs.existsSync(path.join(cgroupRoot, 'memory', 'memory.limit_in_bytes'))) {
    parent = path.join(cgroupRoot, 'memory', v1[2] ?? '/')
    version = 1
  } else {
    const v2 = lines.find((l) => l[0] === '0' && l[1] === '')
    const root = fs.existsSync(path.join(cgroupRoot, 'cgroup.controllers')) ? cgroupRoot : path.join(cgroupRoot, 'unified')
    const own2 = path.join(root, v2?.[2] ?? '/')
    // v2 puts processes only in leaves: children of our own cgroup work only when whoever started
    // the gateway delegated the memory controller to it (kindling does not rearrange the tree)
    if (v2 && readText(path.join(own2, 'cgroup.subtree_control'))?.split(/\s+/).includes('memory')) {
      parent = own2
      version = 2
    } else if (v2) {
      return { reason: `cgroup v2: ${own2} does not delegate the memory controller to its children` }
    }
  }
  if (!parent || !version) return { reason: 'no memory cgroup controller is mounted' }
  try {
    fs.accessSync(parent, fs.constants.W_OK)
  } catch (e) {
    return { reason: `${parent} is not writable (${(e as Error).message})` }
  }
  return { parent, version, reason: null }
}

/** Removes the empty cgroups of gateways that are gone (a kill -9 leaves them behind). */
function sweepStale(parent: string): void {
  let names: string[] = []
  try {
    names = fs.readdirSync(parent).filter((n) => n.startsWith(PREFIX))
  } catch {
    return
  }
  for (const n of names) {
    const owner = Number(n.slice(PREFIX.length).split('-')[0])
    if (owner === process.pid || alive(owner)) continue
    rmdirQuiet(path.join(parent, n))
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function oomKills(dir: string, version: 1 | 2 | undefined): number {
  const text = readText(path.join(dir, version === 1 ? 'memory.oom_control' : 'memory.events')) ?? ''
  const m = /^oom_kill (\d+)$/m.exec(text)
  return m ? Number(m[1]) : 0
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

function trySet(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value)
  } catch {
    // optional knob (swap accounting, delegation) missing on this kernel
  }
}

function rmdirQuiet(dir: string, retries = 3): void {
  try {
    fs.rmdirSync(dir)
  } catch (e) {
    // a process that has just exited can take a moment to leave its cgroup
    if ((e as NodeJS.ErrnoException).code === 'EBUSY' && retries > 0) setTimeout(() => rmdirQuiet(dir, retries - 1), 50).unref()
  }
}
