// What the spawner does for the containers the gateway left when the gateway dies without closing
// (kill -9): kill every process of each container through its cgroups (crun's own process is gone
// by then and the container's init was re-parented to init), delete the runtime's state, detach
// the sandbox's mounts and remove its folder and cgroups. Synchronous: the spawner exits after it.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { mountsUnder } from '../container/overlay.js'
import type { LastRites } from './protocol.js'

const pause = new Int32Array(new SharedArrayBuffer(4))
function sleepSync(ms: number): void {
  Atomics.wait(pause, 0, 0, ms)
}

function write(file: string, value: string): boolean {
  try {
    fs.writeFileSync(file, value)
    return true
  } catch {
    return false
  }
}

function procs(dir: string): number[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
  } catch {
    return []
  }
}

function killAll(dirs: string[]): void {
  for (const d of dirs) {
    for (const pid of procs(d)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
  }
}

/**
 * Kills every process in the cgroups: cgroup.kill where the kernel has it (v2), else freeze (so
 * nothing forks meanwhile), SIGKILL each member, thaw (a frozen process dies once thawed).
 */
function readQuiet(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim()
  } catch {
    return ''
  }
}

export function killCgroups(dirs: string[]): void {
  for (const d of dirs) write(path.join(d, 'cgroup.kill'), '1')
  const freezers = dirs.map((d) => path.join(d, 'freezer.state')).filter((f) => write(f, 'FROZEN'))
  for (let i = 0; i < 20; i++) {
    // a cgroup gone or unreadable meanwhile must not skip the kill below
    if (freezers.every((f) => readQuiet(f) === 'FROZEN')) break
    sleepSync(5)
  }
  killAll(dirs)
  for (const f of freezers) write(f, 'THAWED')
  for (const d of dirs) write(path.join(d, 'cgroup.freeze'), '0')
}

export function performLastRites(r: LastRites): void {
  killCgroups(r.cgroups)
  if (r.runtime && r.containerId) spawnSync(r.runtime, ['delete', '-f', r.containerId], { stdio: 'ignore', timeout: 5000 })
  // mounted last first: the overlay goes before the file system under it
  for (const m of mountsUnder(r.dir)) spawnSync('umount', ['-l', m], { stdio: 'ignore', timeout: 5000 })
  for (const d of [r.dir, ...(r.alsoRemove ?? [])]) fs.rmSync(d, { recursive: true, force: true })
  // a killed process leaves its cgroup once reaped (by init): bounded retries
  let left = r.cgroups
  for (let i = 0; i < 100 && left.length; i++) {
    if (i) sleepSync(20)
    killAll(left)
    left = left.filter((d) => {
      try {
        fs.rmdirSync(d)
        return false
      } catch (e) {
        return (e as NodeJS.ErrnoException).code !== 'ENOENT'
      }
    })
  }
}
