// Other benchmarks running on the machine at the same time as the paper's run (they load the 2
// cores and change every number): found by their command lines in /proc, outside this process's
// own tree, and named in the report.
import fs from 'node:fs'
import { descendants } from '../../bench/lib/procmem.js'

const OTHER_BENCHMARKS = /bench\/run\.js|autocannon|\bwrk\b|openloop-main|bench\/(tiers|container|component|ops)\//

export function otherBenchmarks(): string[] {
  const mine = new Set([process.pid, ...descendants(process.pid)])
  const found: string[] = []
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || mine.has(Number(e))) continue
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim()
      if (OTHER_BENCHMARKS.test(cmd)) found.push(cmd.slice(0, 100))
    } catch {}
  }
  return found
}
