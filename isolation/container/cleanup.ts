// Removes everything an earlier run of kindling on the same data dir left behind, e.g. after a
// kill -9 of the gateway: containers (known to crun or runc) whose id carries this data dir's
// marker, their cgroups, forwarder processes, overlay mounts, sandbox folders and socket folders.
// Nothing without the marker is touched.
import fs from 'node:fs'
import path from 'node:path'
import { removeCgroupTree, thaw } from './cgroups.js'
import type { Naming } from './naming.js'
import { mountsUnder, unmount } from './overlay.js'
import { OciRuntime, which } from './runtime.js'

export interface CleanupReport {
  containers: string[]
  cgroupsLeft: string[]
  forwarders: number
  mounts: string[]
}

/** Forwarder processes of this data dir (their argv carries the id prefix). */
function forwarderPids(idPrefix: string, script: string): number[] {
  const out: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (argv.includes(script) && argv.includes(idPrefix)) out.push(Number(entry))
    } catch {
      // exited meanwhile
    }
  }
  return out
}

export async function cleanupOrphans(naming: Naming, forwarderScript: string, runtimes: OciRuntime[] = knownRuntimes()): Promise<CleanupReport> {
  const report: CleanupReport = { containers: [], cgroupsLeft: [], forwarders: 0, mounts: [] }
  for (const pid of forwarderPids(naming.idPrefix, forwarderScript)) {
    try {
      process.kill(pid, 'SIGKILL')
      report.forwarders++
    } catch {
      // gone
    }
  }
  for (const rt of runtimes) {
    for (const c of await rt.list()) {
      if (!c.id.startsWith(naming.idPrefix)) continue
      thaw(naming.cgroupsPath(c.id)) // a paused container must run again to die
      await rt.delete(c.id)
      report.containers.push(`${rt.name}:${c.id}`)
    }
  }
  for (const m of mountsUnder(naming.sandboxesDir)) {
    await unmount(m)
    report.mounts.push(m)
  }
  report.cgroupsLeft = await removeCgroupTree(naming.cgroupParent())
  fs.rmSync(naming.sandboxesDir, { recursive: true, force: true })
  fs.rmSync(naming.shortSocketRoot, { recursive: true, force: true })
  fs.mkdirSync(naming.sandboxesDir, { recursive: true })
  return report
}

/** Every installed OCI runtime kindling may have used (a restart may pick another one). */
export function knownRuntimes(): OciRuntime[] {
  const out: OciRuntime[] = []
  for (const name of ['crun', 'runc'] as const) {
    const bin = which(name)
    if (bin) out.push(new OciRuntime(name, bin))
  }
  return out
}

export function forwarderScriptPath(): string {
  return path.join(path.dirname(new URL(import.meta.url).pathname), 'forwarder.mjs')
}
