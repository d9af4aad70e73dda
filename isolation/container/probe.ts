// Startup probe: which OCI runtime works on this machine. Debian's crun 1.8.1 refuses to run on a
// cgroup v1 hybrid host whose cgroup2 mount still holds a controller (this VM leaves hugetlb
// there): "cgroups in hybrid mode not supported". As root, the fix is to mount that controller as
// its own v1 hierarchy (once per boot; idempotent). If crun still fails, runc (slower, same
// config.json) is used.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { cgroupLayout } from './cgroups.js'
import { OciRuntime, type RuntimeName, which } from './runtime.js'
import { buildSpec } from './spec.js'

export interface ProbeOutcome {
  runtime: OciRuntime | undefined
  /** why no runtime works, or null */
  reason: string | null
  /** what the probe did or found, for logs and /system/info */
  notes: string[]
}

const HYBRID = /hybrid mode not supported/

/** Controllers left on the cgroup2 mount of a v1 hybrid host (crun refuses to run while any are). */
export function strandedV2Controllers(): string[] {
  const l = cgroupLayout()
  if (l.pureV2 || !l.unified || l.v1.size === 0) return []
  const out = new Set<string>()
  try {
    for (const c of fs.readFileSync(path.join(l.unified, 'cgroup.controllers'), 'utf8').split(/\s+/)) if (c) out.add(c)
  } catch {
    // no unified mount to read
  }
  // cgroup.controllers can read empty for a moment after a v1 hierarchy goes away, so also take
  // the controllers cgroup2 knows that /proc/cgroups shows in no v1 hierarchy (hierarchy id 0)
  try {
    for (const line of fs.readFileSync('/proc/cgroups', 'utf8').split('\n').slice(1)) {
      const [name, hierarchy, , enabled] = line.split(/\s+/)
      if (name && hierarchy === '0' && enabled === '1' && V2_CAPABLE.has(name) && !l.v1.has(name)) out.add(name)
    }
  } catch {
    // not Linux
  }
  return [...out]
}

/** Controllers that exist in cgroup v2 (the others, such as net_cls, are v1 only). */
const V2_CAPABLE = new Set(['cpuset', 'cpu', 'memory', 'hugetlb', 'pids', 'rdma', 'misc', 'blkio'])

/**
 * Mounts each stranded controller as a v1 hierarchy under the cgroup root, e.g.
 * `mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb`. Needs root; does nothing when
 * there is nothing to fix. Returns what it did.
 */
export function fixHybridCgroups(): string[] {
  const notes: string[] = []
  const stranded = strandedV2Controllers()
  if (!stranded.length) return notes
  if (process.getuid?.() !== 0) {
    notes.push(`cgroup2 still holds ${stranded.join(', ')} and kindling is not root, so it cannot move it to v1`)
    return notes
  }
  const l = cgroupLayout()
  const anyV1 = [...l.v1.values()][0]!
  const root = path.dirname(anyV1)
  for (const c of stranded) {
    if (!/^[a-z_]+$/.test(c) || l.v1.has(c)) continue
    const mp = path.join(root, c)
    fs.mkdirSync(mp, { recursive: true })
    execFileSync('mount', ['-t', 'cgroup', '-o', c, 'cgroup', mp], { stdio: 'pipe' })
    l.v1.set(c, mp)
    notes.push(`mounted the ${c} cgroup controller as v1 at ${mp} (crun needs it off cgroup2 on this hybrid host)`)
  }
  return notes
}

function tryRuntime(rt: OciRuntime, probeDir: string, id: string, cgroupsPath: string, busybox: string | undefined): { ok: boolean; stderr: string } {
  try {
    return runProbe(rt, probeDir, id, cgroupsPath, busybox)
  } catch (e) {
    // the probe bundle could not be written (a full disk): the tier is unavailable, kindling still starts
    fs.rmSync(probeDir, { recursive: true, force: true })
    return { ok: false, stderr: `could not write the probe bundle: ${(e as Error).message}` }
  }
}

function runProbe(rt: OciRuntime, probeDir: string, id: string, cgroupsPath: string, busybox: string | undefined): { ok: boolean; stderr: string } {
  const rootfs = path.join(probeDir, 'rootfs')
  fs.rmSync(probeDir, { recursive: true, force: true })
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'bin']) fs.mkdirSync(path.join(rootfs, d), { recursive: true })
  if (busybox) fs.copyFileSync(busybox, path.join(rootfs, 'bin/busybox'))
  if (busybox) fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755)
  const spec = buildSpec({
    rootfs,
    readonlyRoot: true,
    args: busybox ? ['/bin/busybox', 'true'] : ['/kindling-probe'],
    env: ['PATH=/bin'],
    cwd: '/',
    hostname: 'probe',
    cgroupsPath,
    memoryBytes: 16 * 1024 * 1024,
    cpuCores: 0,
    pidsLimit: 16,
    tmpfsBytes: 1024 * 1024,
    binds: [],
  })
  fs.writeFileSync(path.join(probeDir, 'config.json'), JSON.stringify(spec))
  const r = spawnSync(rt.bin, ['run', '--bundle', probeDir, id], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000, encoding: 'utf8' })
  spawnSync(rt.bin, rt.name === 'runc' ? ['delete', '--force', id] : ['delete', '-f', id], { stdio: 'ignore', timeout: 15_000 })
  fs.rmSync(probeDir, { recursive: true, force: true })
  const stderr = `${r.stderr ?? ''}${r.error ? r.error.message : ''}`
  // without a busybox to run, "executable not found" still proves namespaces and cgroups work
  const ok = r.status === 0 || (!busybox && /not found|no such file/i.test(stderr) && !HYBRID.test(stderr))
  return { ok, stderr: stderr.trim() }
}

/**
 * Finds a working runtime (synchronously, at tier construction; ~30 ms). `prefer` forces one;
 * "auto" takes crun and falls back to runc.
 */
export function probeRuntime(prefer: RuntimeName | 'auto', probeDir: string, idPrefix: string, cgroupParent: string, busybox: string | undefined): ProbeOutcome {
  const notes: string[] = []
  const order: RuntimeName[] = prefer === 'auto' ? ['crun', 'runc'] : [prefer]
  const failures: string[] = []
  if (process.platform !== 'linux') return { runtime: undefined, reason: 'OCI containers need Linux', notes }
  for (const name of order) {
    const bin = which(name)
    if (!bin) {
      failures.push(`${name} is not installed (apt-get install ${name})`)
      continue
    }
    const rt = new OciRuntime(name, bin)
    const id = `${idPrefix}probe${process.pid}`
    let res = tryRuntime(rt, probeDir, id, `${cgroupParent}/${id}`, busybox)
    if (!res.ok && HYBRID.test(res.stderr)) {
      try {
        notes.push(...fixHybridCgroups())
      } catch (e) {
        notes.push(`could not move the stranded cgroup2 controllers to v1: ${(e as Error).message}`)
      }
      res = tryRuntime(rt, probeDir, id, `${cgroupParent}/${id}`, busybox)
    }
    if (res.ok) {
      if (failures.length) notes.push(`using ${name}: ${failures.join('; ')}`)
      return { runtime: rt, reason: null, notes }
    }
    failures.push(`${name} cannot run a container here: ${res.stderr || 'unknown error'}`)
  }
  return { runtime: undefined, reason: failures.join('; '), notes }
}
