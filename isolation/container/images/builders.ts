// Builders for small images made from what is already installed on this machine: a busybox image
// from the static busybox of Debian's busybox-static, and a node image from the host's node binary
// plus the shared libraries ldd lists for it (and busybox, so that the image has a shell).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { KindlingError } from '../../errors.js'
import { findStaticBusybox, isStaticElf } from './elf.js'
import { addPath, copyInto } from './rootfs.js'
import { DEFAULT_BUSYBOX_REF, DEFAULT_NODE_REF, type ImageListEntry, type ImageStore } from './store.js'

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface BuildOptions {
  /** NAME:TAG of the new image */
  ref?: string
  /** host files or folders to copy in: [hostPath, absolute path inside the image] */
  add?: [string, string][]
  /** extra default environment, "KEY=value" (fprocess, mode, ...) */
  env?: string[]
  /** hard-link large host binaries instead of copying them when on the same filesystem (tests) */
  link?: boolean
}

function busyboxOrThrow(given?: string): string {
  const bb = given ?? findStaticBusybox()
  if (!bb || !isStaticElf(bb)) {
    throw new KindlingError(
      'KINDLING_ERR_IMAGE_NOT_FOUND',
      'a statically linked busybox is needed to build the busybox image; install it with "apt-get install busybox-static"',
    )
  }
  return bb
}

/** Installs busybox at /bin/busybox with a relative symlink for every applet it lists. */
function installBusybox(rootfs: string, busybox: string): void {
  copyInto(rootfs, busybox, '/bin/busybox')
  const applets = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean)
  for (const rel of applets) {
    if (!rel.includes('/') || rel === 'bin/busybox') continue
    const link = path.join(rootfs, rel)
    if (fs.existsSync(link)) continue
    fs.mkdirSync(path.dirname(link), { recursive: true })
    fs.symlinkSync(path.relative(path.dirname(link), path.join(rootfs, 'bin/busybox')), link)
  }
}

function finish(store: ImageStore, staged: string, ref: string, source: string, opts: BuildOptions, env: string[]): ImageListEntry {
  const rootfs = path.join(staged, 'rootfs')
  for (const [from, to] of opts.add ?? []) addPath(rootfs, path.resolve(from), to)
  return store.commit(ref, staged, source, { env: mergeEnv(env, opts.env ?? []) })
}

/** Later entries win, by key. */
export function mergeEnv(...lists: string[][]): string[] {
  const m = new Map<string, string>()
  for (const list of lists) for (const kv of list) m.set(kv.split('=')[0]!, kv)
  return [...m.values()]
}

export function buildBusyboxImage(store: ImageStore, opts: BuildOptions & { busybox?: string } = {}): ImageListEntry {
  const busybox = busyboxOrThrow(opts.busybox)
  const staged = store.stage()
  try {
    installBusybox(path.join(staged, 'rootfs'), busybox)
    return finish(store, staged, opts.ref ?? DEFAULT_BUSYBOX_REF, 'build:busybox', opts, [DEFAULT_PATH])
  } catch (e) {
    fs.rmSync(staged, { recursive: true, force: true })
    throw e
  }
}

/** The shared libraries (and loader) a dynamic binary needs, from ldd. */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' })
  const libs = new Set<string>()
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line)
    if (m) libs.add(m[1]!)
  }
  return [...libs]
}

function linkOrCopy(rootfs: string, hostFile: string, dest: string, link: boolean): void {
  const target = path.join(rootfs, dest)
  if (link) {
    fs.mkdirSync(path.dirname(target), { recursive: true })
    try {
      fs.linkSync(fs.realpathSync(hostFile), target)
      return
    } catch {
      // another filesystem or no permission: copy instead
    }
  }
  copyInto(rootfs, hostFile, dest)
}

export function buildNodeImage(store: ImageStore, opts: BuildOptions & { node?: string; busybox?: string } = {}): ImageListEntry {
  const node = fs.realpathSync(opts.node ?? process.execPath)
  const staged = store.stage()
  try {
    const rootfs = path.join(staged, 'rootfs')
    linkOrCopy(rootfs, node, '/usr/bin/node', opts.link ?? false)
    fs.mkdirSync(path.join(rootfs, 'usr/local/bin'), { recursive: true })
    fs.symlinkSync('../../bin/node', path.join(rootfs, 'usr/local/bin/node'))
    for (const lib of sharedLibraries(node)) copyInto(rootfs, lib)
    const busybox = opts.busybox ?? findStaticBusybox()
    if (busybox) installBusybox(rootfs, busybox)
    return finish(store, staged, opts.ref ?? DEFAULT_NODE_REF, 'build:node', opts, [DEFAULT_PATH, 'NODE_ENV=production'])
  } catch (e) {
    fs.rmSync(staged, { recursive: true, force: true })
    throw e
  }
}
