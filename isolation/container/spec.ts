// Writes the OCI runtime config (config.json) of one container. kindling writes it itself rather
// than patching `crun spec`: new PID, mount, IPC, UTS, cgroup and network namespaces (the network one has
// loopback only), a read-only rootfs unless the deployment asks for a writable one, no capabilities
// at all, no new privileges, the default seccomp profile (seccomp.ts), masked /proc paths, and
// cgroup limits for memory (swap included), CPU and pids.
import { defaultSeccomp } from './seccomp.js'

export interface BindMount {
  /** path inside the container */
  destination: string
  /** host path */
  source: string
  readonly: boolean
}

export interface SpecInput {
  /** host path of the root filesystem */
  rootfs: string
  readonlyRoot: boolean
  args: string[]
  env: string[]
  cwd: string
  hostname: string
  /** same relative cgroup in every hierarchy, e.g. /kindling-<marker>/<id> */
  cgroupsPath: string
  /** 0 = no limit */
  memoryBytes: number
  /** 0 = no limit */
  cpuCores: number
  pidsLimit: number
  tmpfsBytes: number
  binds: BindMount[]
  /** the image's User, resolved (default root) */
  user?: { uid: number; gid: number }
}

export const CPU_PERIOD_US = 100_000
// none: every process inside is uid 0 (so signals between them need no CAP_KILL), ports below 1024
// need none (the sysctl below), and root still owns the files it is given
const CAPS: string[] = []

export interface OciSpec {
  ociVersion: string
  process: Record<string, unknown> & { args: string[]; env: string[] }
  root: { path: string; readonly: boolean }
  hostname: string
  mounts: Record<string, unknown>[]
  linux: Record<string, unknown> & { cgroupsPath: string; resources: Record<string, unknown> }
}

export function buildSpec(s: SpecInput): OciSpec {
  const resources: Record<string, unknown> = {
    devices: [{ allow: false, access: 'rwm' }],
    pids: { limit: s.pidsLimit },
  }
  // swap equal to the limit: no swap, so a runaway function is OOM-killed instead of thrashing
  if (s.memoryBytes > 0) resources['memory'] = { limit: s.memoryBytes, swap: s.memoryBytes }
  if (s.cpuCores > 0) resources['cpu'] = { quota: Math.max(1000, Math.round(s.cpuCores * CPU_PERIOD_US)), period: CPU_PERIOD_US }
  const mounts: Record<string, unknown>[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${s.tmpfsBytes}`] },
  ]
  for (const b of s.binds) {
    mounts.push({ destination: b.destination, type: 'bind', source: b.source, options: ['rbind', b.readonly ? 'ro' : 'rw', 'nosuid', 'nodev'] })
  }
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: s.user ?? { uid: 0, gid: 0 },
      args: s.args,
      env: s.env,
      cwd: s.cwd,
      capabilities: { bounding: CAPS, effective: CAPS, inheritable: CAPS, permitted: CAPS, ambient: CAPS },
      // no core dumps: they would fill the writable layer or /tmp, or start the host's core_pattern handler
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 4096, soft: 4096 }, { type: 'RLIMIT_CORE', hard: 0, soft: 0 }],
      noNewPrivileges: true,
    },
    root: { path: s.rootfs, readonly: s.readonlyRoot },
    hostname: s.hostname,
    mounts,
    linux: {
      cgroupsPath: s.cgroupsPath,
      resources,
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      // per network namespace: a server may listen on :80 without CAP_NET_BIND_SERVICE
      sysctl: { 'net.ipv4.ip_unprivileged_port_start': '0' },
      seccomp: defaultSeccomp(),
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
        // energy counters: a side channel on what other tenants compute (CVE-2020-8694)
        '/sys/devices/virtual/powercap',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  }
}
