// The cgroups of kindling's containers, read and written directly: the OOM counter after a call,
// the freezer for pausing idle containers (a file write instead of a `crun pause` process), and the
// removal of cgroups an earlier run left behind. cgroup v1 (this VM: hybrid) and v2 both work.
import fs from 'node:fs'
import path from 'node:path'

export interface CgroupLayout {
  /** v1 controller (or "name=systemd") -> mount point */
  v1: Map<string, string>
  /** the cgroup2 mount, if any (the unified part of a hybrid host, or the only one) */
  unified: string | undefined
  /** no v1 controllers at all */
  pureV2: boolean
}

let cached: CgroupLayout | undefined

export function cgroupLayout(): CgroupLayout {
  if (cached) return cached
  const v1 = new Map<string, string>()
  let unified: string | undefined
  let text = ''
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    // not Linux
  }
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!left || !right) continue
    const mountPoint = unescapeMount(left.split(' ')[4] ?? '')
    const [fstype, , superOpts] = right.split(' ')
    if (fstype === 'cgroup2') unified ??= mountPoint
    if (fstype !== 'cgroup') continue
    for (const opt of (superOpts ?? '').split(',')) {
      if (opt === 'rw' || opt === 'ro' || opt.startsWith('release_agent') || opt === 'clone_children' || opt === 'noprefix') continue
      v1.set(opt, mountPoint)
    }
  }
  cached = { v1, unified, pureV2: v1.size === 0 && unified !== undefined }
  return cached
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** Every hierarchy mount point (v1 and v2), each once. */
export function allHierarchies(): string[] {
  const l = cgroupLayout()
  return [...new Set([...l.v1.values(), ...(l.unified ? [l.unified] : [])])]
}

function controllerDir(controller: string, rel: string): string | undefined {
  const l = cgroupLayout()
  const mp = l.pureV2 ? l.unified : l.v1.get(controller)
  return mp ? path.join(mp, rel) : undefined
}

function readNumber(file: string, key?: string): number {
  try {
    const text = fs.readFileSync(file, 'utf8')
    if (key === undefined) return Number(text.trim()) || 0
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text)
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/**
 * usage (issue 13): CPU time the container's processes used so far, in microseconds (v2 cpu.stat
 * usage_usec, v1 cpuacct.usage); undefined where it cannot be read.
 */
export function cpuUsageUs(cgroupsPath: string): number | undefined {
  const v2 = cgroupLayout().pureV2
  const dir = controllerDir(v2 ? 'cpu' : 'cpuacct', cgroupsPath)
  if (!dir) return undefined
  try {
    if (v2) {
      const m = /^usage_usec (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))
      return m ? Number(m[1]) : undefined
    }
    const ns = Number(fs.readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8').trim())
    return Number.isFinite(ns) ? ns / 1000 : undefined
  } catch {
    return undefined
  }
}

export interface MemoryEvents {
  /** processes the kernel OOM killer killed in this cgroup */
  oomKills: number
  /** times usage hit the limit (v1 failcnt, v2 "max" events) */
  limitHits: number
}

export function memoryEvents(cgroupsPath: string): MemoryEvents {
  const dir = controllerDir('memory', cgroupsPath)
  if (!dir) return { oomKills: 0, limitHits: 0 }
  if (cgroupLayout().pureV2) {
    const ev = path.join(dir, 'memory.events')
    return { oomKills: readNumber(ev, 'oom_kill'), limitHits: readNumber(ev, 'max') }
  }
  return { oomKills: readNumber(path.join(dir, 'memory.oom_control'), 'oom_kill'), limitHits: readNumber(path.join(dir, 'memory.failcnt')) }
}

function freezerFile(cgroupsPath: string): { file: string; frozen: string; thawed: string } | undefined {
  const l = cgroupLayout()
  if (l.pureV2) {
    const dir = controllerDir('freezer', cgroupsPath)
    return dir ? { file: path.join(dir, 'cgroup.freeze'), frozen: '1', thawed: '0' } : undefined
  }
  const dir = controllerDir('freezer', cgroupsPath)
  return dir ? { file: path.join(dir, 'freezer.state'), frozen: 'FROZEN', thawed: 'THAWED' } : undefined
}

/** True when the freezer of this cgroup can be written directly. */
export function hasFreezer(cgroupsPath: string): boolean {
  const f = freezerFile(cgroupsPath)
  return f !== undefined && fs.existsSync(f.file)
}

/** Freezes every process of the cgroup and waits (bounded) until the kernel reports it frozen. */
export async function freeze(cgroupsPath: string): Promise<void> {
  const f = freezerFile(cgroupsPath)
  if (!f) throw new Error('no freezer cgroup')
  fs.writeFileSync(f.file, f.frozen)
  const l = cgroupLayout()
  const deadline = Date.now() + 2000
  for (let i = 0; Date.now() < deadline; i++) {
    const state = l.pureV2
      ? /^frozen 1$/m.test(fs.readFileSync(path.join(path.dirname(f.file), 'cgroup.events'), 'utf8'))
        ? f.frozen
        : 'FREEZING'
      : fs.readFileSync(f.file, 'utf8').trim()
    if (state === f.frozen) return
    await new Promise((r) => setTimeout(r, Math.min(1 + i, 10)))
  }
  throw new Error(`cgroup ${cgroupsPath} did not freeze within 2 s`)
}

/** Thaws the cgroup; takes effect at once. */
export function thaw(cgroupsPath: string): void {
  const f = freezerFile(cgroupsPath)
  if (f && fs.existsSync(f.file)) fs.writeFileSync(f.file, f.thawed)
}

function procsOf(dir: string): number[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/**
 * Removes a cgroup subtree (e.g. /kindling-<marker>) from every hierarchy: thaws it, kills what still
 * runs in it, and removes the folders bottom-up. Returns the folders that could not be removed.
 */
export async function removeCgroupTree(rel: string): Promise<string[]> {
  const dirs: string[] = []
  const walk = (d: string): void => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name))
    dirs.push(d) // children first
  }
  for (const mp of allHierarchies()) walk(path.join(mp, rel))
  // thaw first: a frozen process cannot die
  for (const d of dirs) {
    for (const [file, value] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
      try {
        fs.writeFileSync(path.join(d, file), value)
      } catch {
        // not a freezer folder
      }
    }
  }
  let left = dirs
  for (let attempt = 0; attempt < 50 && left.length; attempt++) {
    for (const d of left) {
      for (const pid of procsOf(d)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }
    const still: string[] = []
    for (const d of left) {
      try {
        fs.rmdirSync(d)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') still.push(d)
      }
    }
    left = still
    if (left.length) await new Promise((r) => setTimeout(r, 20))
  }
  return left
}
