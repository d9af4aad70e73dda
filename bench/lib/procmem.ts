// Memory of processes as the kernel counts it: RSS and PSS from /proc/<pid>/smaps_rollup (PSS
// splits shared pages among the processes sharing them, so summing it over a process tree does
// not count a shared page twice), and the process tree below a pid.
import fs from 'node:fs'

export interface ProcMemory {
  rssKiB: number
  pssKiB: number
}

export function smapsRollup(pid: number): ProcMemory | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN)
    return { rssKiB: kib('Rss'), pssKiB: kib('Pss') }
  } catch {
    return undefined
  }
}

/** Every live process below `root` (children, grandchildren, ...), from /proc/<pid>/stat. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>()
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8')
      // the command name may contain spaces and parentheses: the ppid is the 2nd field after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parent.set(Number(e), ppid)
    } catch {}
  }
  const out: number[] = []
  const walk = (p: number) => {
    for (const [pid, pp] of parent) {
      if (pp === p) {
        out.push(pid)
        walk(pid)
      }
    }
  }
  walk(root)
  return out
}

/** Sum of RSS and PSS over the given pids (processes that are gone count 0). */
export function sumMemory(pids: readonly number[]): ProcMemory {
  let rssKiB = 0
  let pssKiB = 0
  for (const pid of pids) {
    const m = smapsRollup(pid)
    if (!m) continue
    rssKiB += m.rssKiB
    pssKiB += m.pssKiB
  }
  return { rssKiB, pssKiB }
}

/** Memory of a process and everything below it. */
export function treeMemory(root: number): ProcMemory & { processes: number } {
  const pids = [root, ...descendants(root)]
  return { ...sumMemory(pids), processes: pids.length }
}
