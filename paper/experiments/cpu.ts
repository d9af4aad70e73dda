// CPU time per start, the way Faasm counts cycles (system-wide, `perf stat -a` around a loop of
// starts): perf on this VM counts no hardware events (instructions and cycles are "not
// supported"), so the busy time of all CPUs comes from /proc/stat instead, minus the idle rate
// measured just before. It includes everything a start costs anywhere: app hosts, OCI runtimes,
// dockerd and containerd, the kernel.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import { descendants } from '../../bench/lib/procmem.js'

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** Busy CPU time of the whole machine so far, in microseconds (user, nice, system, irq, softirq; not steal). */
export function machineBusyUs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!
  const [, user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).map(Number)
  return ((user! + nice! + system! + irq! + softirq!) * 1e6) / CLK_TCK
}

/** Whether perf counts instructions here (it does not in this VM; said in the report). */
export function perfCountsInstructions(): boolean {
  // perf stat writes its counts to stderr; an uncounted event reads "<not supported>"
  const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions', 'true'], { encoding: 'utf8', timeout: 5000 })
  if (r.status !== 0 || !r.stderr) return false
  return /^\d+,/m.test(r.stderr) && !/not supported|not counted/.test(r.stderr)
}

/**
 * CPU time of this process and everything below it, in microseconds: user + system time of each
 * live process plus what its children that it already reaped used (so a process counts once,
 * whether it is still running or was reaped in between). Other work on the machine is not in it,
 * nor are daemons outside the tree (dockerd, containerd, podman's conmon).
 */
export function treeCpuUs(root = process.pid): number {
  let ticks = 0
  for (const pid of [root, ...descendants(root)]) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // fields 14-17 of stat: utime stime cutime cstime (11-14 after the command name)
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
    } catch {}
  }
  return (ticks * 1e6) / CLK_TCK
}

export interface CpuCost {
  /** starts in the loop */
  k: number
  /** CPU time of the benchmark's process tree per start (kindling's processes, the OCI runtime and the containers; not daemons) */
  treeUs: number
  /** busy CPU time of the machine per start, idle rate subtracted */
  cpuUs: number
  /** wall time per start */
  wallUs: number
  /** CPU time per start as a share of its wall time */
  utilisation: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The machine's busy rate while this process sleeps, in CPU-µs per µs. */
async function idleRate(ms: number): Promise<number> {
  const b0 = machineBusyUs()
  const t0 = performance.now()
  await sleep(ms)
  return (machineBusyUs() - b0) / ((performance.now() - t0) * 1000)
}

/** Runs `sample` k times back to back and divides the machine's extra busy time by k. */
export async function cpuPerStart(sample: () => Promise<unknown>, k: number, idleMs = 1000): Promise<CpuCost> {
  const idle = await idleRate(idleMs)
  const c0 = treeCpuUs()
  const b0 = machineBusyUs()
  const t0 = performance.now()
  for (let i = 0; i < k; i++) await sample()
  const wall = (performance.now() - t0) * 1000
  const busy = machineBusyUs() - b0 - idle * wall
  const tree = treeCpuUs() - c0
  return { k, treeUs: tree / k, cpuUs: Math.max(0, busy) / k, wallUs: wall / k, utilisation: busy / wall }
}

/** The nominal clock of the first CPU, in Hz (for a cycles estimate). */
export function cpuHz(): number {
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) return Number(m[1]) * 1e6
  } catch {}
  return NaN
}

export interface ReconciledCpu {
  /** the whole machine's busy time per start, never below the process tree's */
  machineUs: number
  /** true when the idle subtraction took the machine below the tree and the tree is shown instead */
  clamped: boolean
  /** the machine's figure before the clamp */
  rawMachineUs: number
}

/**
 * The two CPU columns, reconciled: the process tree's CPU time is part of the machine's busy
 * time, so the machine cannot be lower. It comes out lower when the idle rate measured before the
 * loop was higher than the background during it (the subtraction overshoots) or by tick rounding;
 * then the tree is the better lower bound of the machine and is shown, marked.
 */
export function reconcileCpu(treeUs: number, machineUs: number): ReconciledCpu {
  if (machineUs >= treeUs) return { machineUs, clamped: false, rawMachineUs: machineUs }
  return { machineUs: treeUs, clamped: true, rawMachineUs: machineUs }
}
