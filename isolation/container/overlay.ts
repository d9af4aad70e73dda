// Each sandbox's own file system: a size-limited tmpfs (at <sandbox>/fs) holding everything the
// container sees of the host (the call I/O folder, secrets, the HTTP socket folder) and the upper
// layer of an overlay over the shared, read-only image, mounted at <sandbox>/rootfs. So:
// - the writable layer (readOnlyRootFilesystem=false) is capped by the tmpfs size, and lives in
//   memory (charged to the container's memory cgroup as it writes), never in the data dir;
// - writes never reach the image or another sandbox, and crun's mount points go to the upper layer;
// - the container's mountinfo names no host path: the overlay is mounted with relative paths from
//   inside the tmpfs (lowerdir=lower, a symlink to the image), and binds from a tmpfs show only
//   their path inside it ("/io", "/secrets").
// The mounts are made by one small shell through the tier's launcher (the spawner), not by a fork
// of the gateway. Dispose and the cleanup at start unmount them.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import type { Launcher } from '../spawner/launcher.js'

const execFileAsync = promisify(execFile)

const MOUNT_SCRIPT = [
  'set -e',
  'mount -t tmpfs -o "size=$3,mode=0700,nosuid,nodev" kindling "$1"',
  'cd "$1"',
  'mkdir upper work',
  'ln -s "$4" lower',
  'mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work "$2"',
].join('\n')

export interface SandboxFs {
  /** the tmpfs: io/, secrets/, sock/ and the overlay's upper and work folders */
  fsDir: string
  /** the container's root (an overlay mount) */
  rootfs: string
}

export function sandboxFsPaths(sandboxDir: string): SandboxFs {
  return { fsDir: path.join(sandboxDir, 'fs'), rootfs: path.join(sandboxDir, 'rootfs') }
}

/** Mounts the sandbox's tmpfs (`bytes` at most) and its root overlay over `image`. */
export async function mountSandboxFs(launcher: Launcher, sandboxDir: string, image: string, bytes: number, busybox?: string): Promise<SandboxFs> {
  const p = sandboxFsPaths(sandboxDir)
  for (const d of [p.fsDir, p.rootfs]) fs.mkdirSync(d, { recursive: true })
  // busybox sh runs mkdir and ln in-process and its mount applet starts faster than util-linux's:
  // 3.8 against 6.3 ms for the script here
  const [cmd, ...pre] = busybox ? [busybox, 'sh'] : ['/bin/sh']
  const r = await launcher.run(cmd!, [...pre, '-c', MOUNT_SCRIPT, 'kindling-mount', p.fsDir, p.rootfs, String(bytes), image], { timeoutMs: 10_000 })
  if (r.code !== 0) throw new Error(`cannot mount the sandbox file system: ${r.stderr.trim() || `exit ${r.code ?? r.signal}`}`)
  return p
}

/** Unmounts the root overlay, then the tmpfs under it. */
export async function unmountSandboxFs(launcher: Launcher, sandboxDir: string, busybox?: string): Promise<void> {
  const mounts = mountsUnder(sandboxDir)
  if (!mounts.length) return
  const [cmd, ...pre] = busybox ? [busybox, 'umount'] : ['umount']
  // one process for all of them, in order; what is busy is detached lazily so the folder can go
  const r = await launcher.run(cmd!, [...pre, ...mounts], { timeoutMs: 10_000 })
  if (r.code !== 0) {
    const left = mountsUnder(sandboxDir)
    if (left.length) await launcher.run('umount', ['-l', ...left], { timeoutMs: 10_000 })
  }
}

export async function unmount(target: string): Promise<void> {
  try {
    await execFileAsync('umount', [target])
  } catch {
    // busy or already gone: detach it lazily so the folder can be removed
    await execFileAsync('umount', ['-l', target]).catch(() => {})
  }
}

/** Mount points at or below `dir`, mounted last first (mountinfo lists them in mount order), so each goes before what it sits on. */
export function mountsUnder(dir: string): string[] {
  let text = ''
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    return []
  }
  const prefix = dir.endsWith('/') ? dir : dir + '/'
  const out: string[] = []
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4]
    if (!mp) continue
    const p = mp.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (p === dir || p.startsWith(prefix)) out.push(p)
  }
  return out.reverse()
}
