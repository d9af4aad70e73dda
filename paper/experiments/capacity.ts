// R3's capacity ramp and the container memory it needs (issue 15, correction 4): start sandboxes
// one after another until a limit of the machine stops the ramp (memory, the kernel's task limit,
// a failing start) or the run's time limit does, and say which. Container memory is what the
// kernel charges to each container's cgroup, kernel memory included (cgroup v1 memory.kmem.*, v2
// memory.stat "kernel"), because a container's cost is mostly outside its processes' PSS.
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { memAvailableBytes } from '../../bench/lib/env.js'
import { cgroupLayout } from '../../isolation/index.js'

export type StopReason = 'memory' | 'tasks' | 'time' | 'budget' | 'error'

export interface RampLimits {
  /** stop while MemAvailable is still above this (a safety margin for the rest of the machine) */
  memFloorBytes: number
  /** stop this many tasks short of the kernel's limit (pid_max, threads-max) */
  taskHeadroom: number
  /** the run's own time limit for one tier */
  timeLimitMs: number
  /** quick mode only: a small count budget, reported as such */
  budget?: number
}

export interface RampProbe {
  count: number
  elapsedMs: number
  memAvailableBytes: number
  /** tasks (threads) on the machine now, and the kernel's limit */
  tasks: number
  taskLimit: number
}

/** Why the ramp stops now, or undefined to start one more. Machine limits win over the run's own. */
export function stopReason(p: RampProbe, l: RampLimits): StopReason | undefined {
  if (p.memAvailableBytes < l.memFloorBytes) return 'memory'
  if (p.tasks >= p.taskLimit - l.taskHeadroom) return 'tasks'
  if (l.budget !== undefined && p.count >= l.budget) return 'budget'
  if (p.elapsedMs >= l.timeLimitMs) return 'time'
  return undefined
}

export function describeStop(r: StopReason, p: RampProbe, l: RampLimits, error?: string): string {
  switch (r) {
    case 'memory':
      return `memory: MemAvailable fell to ${(p.memAvailableBytes / 2 ** 30).toFixed(1)} GiB, under the ${(l.memFloorBytes / 2 ** 30).toFixed(0)} GiB margin`
    case 'tasks':
      return `tasks: ${p.tasks} of the kernel's ${p.taskLimit} (pid_max / threads-max)`
    case 'budget':
      return `quick-mode budget of ${l.budget} (not a limit of the machine)`
    case 'time':
      return `the run's time limit (${(l.timeLimitMs / 1000).toFixed(0)} s; no machine limit reached)`
    case 'error':
      return `a start failed: ${error ?? 'unknown error'}`
  }
}

/** Tasks on the machine (the 4th field of /proc/loadavg: running/total) and the kernel's limit. */
export function machineTasks(): { tasks: number; taskLimit: number } {
  const read = (f: string) => Number(fs.readFileSync(f, 'utf8').trim())
  const tasks = Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[3]?.split('/')[1] ?? NaN)
  return { tasks, taskLimit: Math.min(read('/proc/sys/kernel/pid_max'), read('/proc/sys/kernel/threads-max')) }
}

export interface RampOutcome<T> {
  items: T[]
  stopped: StopReason
  detail: string
  seconds: number
}

/** Starts items one after another until stopReason says stop or a start fails. */
export async function ramp<T>(start: (i: number) => Promise<T>, limits: RampLimits, probe: () => Omit<RampProbe, 'count' | 'elapsedMs'> = () => ({ memAvailableBytes: memAvailableBytes(), ...machineTasks() }), onTick?: (n: number) => void): Promise<RampOutcome<T>> {
  const items: T[] = []
  const t0 = performance.now()
  for (;;) {
    const p: RampProbe = { count: items.length, elapsedMs: performance.now() - t0, ...probe() }
    const why = stopReason(p, limits)
    if (why) return { items, stopped: why, detail: describeStop(why, p, limits), seconds: p.elapsedMs / 1000 }
    try {
      items.push(await start(items.length))
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0]!.slice(0, 200)
      return { items, stopped: 'error', detail: describeStop('error', p, limits, msg), seconds: (performance.now() - t0) / 1000 }
    }
    onTick?.(items.length)
  }
}

export interface CgroupMemory {
  /** everything charged to the cgroup, bytes */
  totalBytes: number
  /** of which kernel memory (stacks, page tables, slab: namespaces, mounts, sockets) */
  kernelBytes: number
  /** anonymous memory of its processes */
  anonBytes: number
  /** page cache charged to it (the first container that reads a shared file pays for it) */
  fileBytes: number
}

function statKeys(file: string): Map<string, number> {
  const m = new Map<string, number>()
  try {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.split(' ')
      if (k && v) m.set(k, Number(v))
    }
  } catch {}
  return m
}

function readNum(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || 0
  } catch {
    return 0
  }
}

/** The memory cgroup of a process, relative to its hierarchy (v1 "memory" line, or v2 "0::"). */
export function memoryCgroupOf(pid: number): string | undefined {
  try {
    const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')
    const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))
    if (v1) return v1.slice(v1.indexOf(':', v1.indexOf(':') + 1) + 1)
    const v2 = lines.find((l) => l.startsWith('0::'))
    return v2 ? v2.slice(3) : undefined
  } catch {
    return undefined
  }
}

/** What the kernel charges to one memory cgroup (path relative to the hierarchy). */
export function cgroupMemory(rel: string): CgroupMemory | undefined {
  const l = cgroupLayout()
  const v1 = l.v1.get('memory')
  if (v1) {
    const dir = path.join(v1, rel)
    if (!fs.existsSync(path.join(dir, 'memory.usage_in_bytes'))) return undefined
    const st = statKeys(path.join(dir, 'memory.stat'))
    // v1: usage counts user and kernel memory; kmem.usage is the kernel part
    return { totalBytes: readNum(path.join(dir, 'memory.usage_in_bytes')), kernelBytes: readNum(path.join(dir, 'memory.kmem.usage_in_bytes')), anonBytes: st.get('total_rss') ?? st.get('rss') ?? 0, fileBytes: st.get('total_cache') ?? st.get('cache') ?? 0 }
  }
  if (!l.unified) return undefined
  const dir = path.join(l.unified, rel)
  if (!fs.existsSync(path.join(dir, 'memory.current'))) return undefined
  const st = statKeys(path.join(dir, 'memory.stat'))
  const kernel = st.get('kernel') ?? ['kernel_stack', 'pagetables', 'slab', 'sock', 'percpu', 'vmalloc'].reduce((a, k) => a + (st.get(k) ?? 0), 0)
  return { totalBytes: readNum(path.join(dir, 'memory.current')), kernelBytes: kernel, anonBytes: st.get('anon') ?? 0, fileBytes: st.get('file') ?? 0 }
}

export function sumCgroups(list: readonly (CgroupMemory | undefined)[]): CgroupMemory & { counted: number } {
  const out = { totalBytes: 0, kernelBytes: 0, anonBytes: 0, fileBytes: 0, counted: 0 }
  for (const m of list) {
    if (!m) continue
    out.totalBytes += m.totalBytes
    out.kernelBytes += m.kernelBytes
    out.anonBytes += m.anonBytes
    out.fileBytes += m.fileBytes
    out.counted++
  }
  return out
}
