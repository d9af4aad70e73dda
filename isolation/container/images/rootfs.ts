// Small filesystem helpers shared by the image builders and the importer.
import fs from 'node:fs'
import path from 'node:path'

/** Folders every rootfs needs as mount points, so crun never has to create them in a shared image. */
export const MOUNT_POINTS = ['proc', 'sys', 'dev', 'tmp', 'run', 'etc', 'var/openfaas/secrets', 'run/kindling']

export function ensureMountPoints(rootfs: string): void {
  for (const d of MOUNT_POINTS) {
    const p = path.join(rootfs, d)
    // a symlink (e.g. /run -> /var/run in some images) is fine: crun follows it inside the rootfs
    if (fs.existsSync(p) || isSymlink(p)) continue
    fs.mkdirSync(p, { recursive: true })
  }
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777)
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink()
  } catch {
    return false
  }
}

/** Minimal /etc/passwd and /etc/group (root and nobody), kept if the rootfs has its own. */
export function ensureUsers(rootfs: string): void {
  const etc = path.join(rootfs, 'etc')
  fs.mkdirSync(etc, { recursive: true })
  const passwd = path.join(etc, 'passwd')
  if (!fs.existsSync(passwd)) fs.writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n')
  const group = path.join(etc, 'group')
  if (!fs.existsSync(group)) fs.writeFileSync(group, 'root:x:0:\nnogroup:x:65534:\n')
}

/** Copies one host file to the same path inside the rootfs (or to `dest`), keeping its mode. */
export function copyInto(rootfs: string, hostFile: string, dest: string = hostFile): void {
  const target = path.join(rootfs, dest)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.copyFileSync(hostFile, target, fs.constants.COPYFILE_FICLONE)
  fs.chmodSync(target, fs.statSync(hostFile).mode & 0o7777)
}

/** Copies a host file or folder (recursively) to `dest` inside the rootfs: `--add SRC:DEST`. */
export function addPath(rootfs: string, hostPath: string, dest: string): void {
  if (!path.posix.isAbsolute(dest)) throw new Error(`--add destination "${dest}" must be an absolute path inside the image`)
  const target = path.join(rootfs, path.posix.normalize(dest))
  if (!target.startsWith(rootfs + path.sep)) throw new Error(`--add destination "${dest}" leaves the image`)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.cpSync(hostPath, target, { recursive: true, dereference: true, preserveTimestamps: true })
}

/** Total size in bytes of a folder (files only, symlinks not followed). */
export function folderSize(dir: string): number {
  let total = 0
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) total += fs.statSync(p).size
    }
  }
  walk(dir)
  return total
}
