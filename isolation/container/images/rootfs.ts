// Small filesystem helpers shared by the image builders and the importer.
import fs from 'node:fs'
import path from 'node:path'
import { resolveInRoot } from './layer-extract.js'

/** Folders every rootfs needs as mount points, so crun never has to create them in a shared image. */
export const MOUNT_POINTS = ['proc', 'sys', 'dev', 'tmp', 'run', 'etc', 'var/openfaas/secrets', 'run/kindling']

/**
 * Creates the mount points an image lacks. The rootfs may come from an untrusted image, so every
 * path is resolved inside it (resolveInRoot): a /tmp or /var symlinked to a host folder is left
 * as it is (crun resolves mount destinations inside the rootfs too) and never written through.
 */
export function ensureMountPoints(rootfs: string): void {
  for (const d of MOUNT_POINTS) {
    let p: string
    try {
      p = resolveInRoot(rootfs, d.split('/'), true, 'image')!
    } catch {
      continue // a symlink loop: the container cannot start, and crun says why
    }
    // a symlink (e.g. /run -> /var/run in some images) is fine: crun follows it inside the rootfs
    if (lstatOrUndefined(p)) continue
    fs.mkdirSync(p, { mode: 0o755 })
  }
  const tmp = path.join(rootfs, 'tmp')
  if (lstatOrUndefined(tmp)?.isDirectory()) fs.chmodSync(tmp, 0o1777)
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p)
  } catch {
    return undefined
  }
}

/** Minimal /etc/passwd and /etc/group (root and nobody), kept if the rootfs has its own (in-root, never through a link). */
export function ensureUsers(rootfs: string): void {
  const write = (name: string, text: string): void => {
    let p: string
    try {
      p = resolveInRoot(rootfs, ['etc', name], true, 'image')!
    } catch {
      return // /etc is a symlink loop: nothing to add to
    }
    try {
      // O_EXCL: an existing file or a symlink (even a dangling one) stays as it is
      fs.writeFileSync(p, text, { flag: 'wx', mode: 0o644 })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
  }
  write('passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n')
  write('group', 'root:x:0:\nnogroup:x:65534:\n')
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
