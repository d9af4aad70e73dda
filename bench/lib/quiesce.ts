// Waits until the benchmark's own processes have gone quiet: work one case starts in the
// background (a spare process booting, a container being deleted, a snapshot restore) must not
// land in the next case's timings on a 2-core machine. Watches the CPU time of this process and
// everything below it (/proc/<pid>/stat utime + stime, in clock ticks).
import fs from 'node:fs'
import { descendants } from './procmem.js'

function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name
    return Number(f[11]) + Number(f[12])
  } catch {
    return 0
  }
}

function treeTicks(pids: readonly number[]): number {
  let t = 0
  for (const p of pids) t += cpuTicks(p)
  return t
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Resolves once a window of `windowMs` passes with the process tree using at most `maxTicks`
 * clock ticks (10 ms each at the usual 100 Hz) of CPU, or after `maxMs`. Returns the wait in ms.
 */
export async function quiesce(opts: { windowMs?: number; maxTicks?: number; maxMs?: number } = {}): Promise<number> {
  const windowMs = opts.windowMs ?? 100
  const maxTicks = opts.maxTicks ?? 2
  const t0 = Date.now()
  const end = t0 + (opts.maxMs ?? 3000)
  const pids = [process.pid, ...descendants(process.pid)]
  let before = treeTicks(pids)
  while (Date.now() < end) {
    await sleep(windowMs)
    const now = treeTicks(pids)
    if (now - before <= maxTicks) break
    before = now
  }
  return Date.now() - t0
}
