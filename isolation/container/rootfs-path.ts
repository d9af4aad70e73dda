// Resolves fprocess's program inside an image rootfs on the host, following symlinks as they would
// resolve inside the container (absolute links stay in the rootfs). Done at prepare time so that a
// missing program fails the deployment, and so the shim runs the image's own binary by absolute
// path (busybox sh would otherwise prefer its built-in applet of the same name).
import fs from 'node:fs'
import path from 'node:path'

const MAX_LINKS = 40

/** The host path of `inner` inside `rootfs`, symlinks resolved within the rootfs; undefined if missing. */
export function resolveInRootfs(rootfs: string, inner: string): string | undefined {
  const parts = inner.split('/').filter(Boolean)
  let current = rootfs
  let links = 0
  while (parts.length) {
    const part = parts.shift()!
    if (part === '.') continue
    if (part === '..') {
      if (current !== rootfs) current = path.dirname(current)
      continue
    }
    const next = path.join(current, part)
    let st: fs.Stats
    try {
      st = fs.lstatSync(next)
    } catch {
      return undefined
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return undefined
      const target = fs.readlinkSync(next)
      if (target.startsWith('/')) current = rootfs
      parts.unshift(...target.split('/').filter(Boolean))
      continue
    }
    current = next
  }
  return current
}

/** The absolute in-container path of the program `name` (PATH lookup unless it contains "/"). */
export function findProgram(rootfs: string, name: string, pathEnv: string, cwd = '/'): string | undefined {
  const candidates = name.includes('/')
    ? [path.posix.resolve(cwd, name)]
    : pathEnv.split(':').filter(Boolean).map((d) => path.posix.join(d, name))
  for (const c of candidates) {
    const host = resolveInRootfs(rootfs, c)
    if (!host) continue
    try {
      const st = fs.statSync(host)
      if (st.isFile() && (st.mode & 0o111) !== 0) return c
    } catch {
      // not there
    }
  }
  return undefined
}
