// The local image store under <dataDir>/images. No registry is reachable, so every image is a
// rootfs folder that was imported from a tar or built from files on this machine:
//
//   images/refs.json          normalised reference -> image id
//   images/<id>/rootfs/       the root filesystem, shared read-only by every container of the image
//   images/<id>/image.json    where it came from, its size and its default environment
//
// Several references may name one image (tags and aliases). A few names OpenFaaS users deploy as
// plain toolboxes (functions/alpine:latest and its ghcr.io twin) resolve to the busybox image.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { KindlingError } from '../../errors.js'
import { familiarReference, normaliseReference, parseReference } from './reference.js'
import { ensureMountPoints, ensureUsers, folderSize } from './rootfs.js'

export const DEFAULT_BUSYBOX_REF = 'kindling/busybox:latest'
export const DEFAULT_NODE_REF = 'kindling/node:latest'

/** Names that resolve to the busybox image unless an image of that name was imported. */
export const BUILTIN_ALIASES: Readonly<Record<string, string>> = {
  'functions/alpine:latest': DEFAULT_BUSYBOX_REF,
  'ghcr.io/openfaas/alpine:latest': DEFAULT_BUSYBOX_REF,
  'busybox:latest': DEFAULT_BUSYBOX_REF,
}

export interface ImageConfig {
  /** default environment, "KEY=value" (fprocess, mode, PATH, ...) */
  env: string[]
  /** working directory of the function's process (default "/") */
  workdir?: string
  /** from a pulled or imported image's config: what runs when no fprocess is given */
  entrypoint?: string[]
  cmd?: string[]
  /** "uid", "uid:gid", "name" or "name:group", resolved in the rootfs */
  user?: string
  /** "8080/tcp", ... */
  exposedPorts?: string[]
}

/** Where a pulled or imported image came from, for `image list` and the GC. */
export interface ImageProvenance {
  /** "sha256:..." of the manifest */
  digest: string
  /** registry URL and repository, or the archive file */
  origin: string
  /** layer blobs (images/blobs/sha256/<hex>) the image was unpacked from */
  layers: string[]
}

export interface ImageRecord {
  id: string
  created: string
  /** "import:<file>", "build:busybox", "build:node" */
  source: string
  sizeBytes: number
  config: ImageConfig
  digest?: string
  origin?: string
  layers?: string[]
}

export interface ImageListEntry {
  /** normalised reference */
  ref: string
  /** the short form, as `kindling image list` prints it */
  name: string
  id: string
  source: string
  created: string
  sizeBytes: number
  /** set for built-in aliases: the familiar name of the image they stand for */
  aliasOf?: string
  /** manifest digest and origin of pulled or imported images */
  digest?: string
  origin?: string
}

export interface ResolvedImage {
  ref: string
  id: string
  rootfs: string
  config: ImageConfig
  /** the built-in alias the reference went through, if any */
  alias?: string
}

interface RefsFile {
  version: 1
  refs: Record<string, string>
}

/** What a pull for one deployment brings: its namespace's registry-auth secret, a log. */
export interface PullContext {
  authConfig?: Buffer
  log?: (text: string) => void
}

export interface ImageStoreOptions {
  /** called when a reference is missing; may build the image (the busybox builder does) */
  autoBuild?: (normalisedRef: string) => Promise<boolean>
  /** pulls a missing reference from its registry or mirror */
  pull?: {
    run(normalisedRef: string, ctx: PullContext): Promise<unknown>
    /** whether the registry has a mirror configured (built-in aliases are pulled only from mirrors) */
    hasMirror(domain: string): boolean
  }
}

export class ImageStore {
  readonly root: string
  private readonly refsPath: string
  private readonly building = new Map<string, Promise<boolean>>()
  private readonly pulling = new Map<string, Promise<unknown>>()

  constructor(
    readonly dataDir: string,
    private readonly options: ImageStoreOptions = {},
  ) {
    this.root = path.join(path.resolve(dataDir), 'images')
    this.refsPath = path.join(this.root, 'refs.json')
  }

  private readRefs(): Record<string, string> {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.refsPath, 'utf8')) as RefsFile
      return parsed.refs ?? {}
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {}
      throw new KindlingError('KINDLING_ERR_INTERNAL', `the image store index ${this.refsPath} is unreadable: ${(e as Error).message}`)
    }
  }

  private writeRefs(refs: Record<string, string>): void {
    fs.mkdirSync(this.root, { recursive: true })
    const tmp = `${this.refsPath}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`
    const sorted = Object.fromEntries(Object.entries(refs).sort(([a], [b]) => a.localeCompare(b)))
    fs.writeFileSync(tmp, JSON.stringify({ version: 1, refs: sorted } satisfies RefsFile, null, 2) + '\n')
    fs.renameSync(tmp, this.refsPath) // atomic: a CLI and a gateway may both write
  }

  record(id: string): ImageRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.root, id, 'image.json'), 'utf8')) as ImageRecord
    } catch {
      return undefined
    }
  }

  /** A layer blob, content-addressed and shared by every image that lists it. */
  blobPath(hex: string): string {
    const dir = path.join(this.root, 'blobs', 'sha256')
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    return path.join(dir, hex)
  }

  /** The image a reference names itself (no alias). */
  lookupDirect(norm: string): ResolvedImage | undefined {
    const id = this.readRefs()[norm]
    return id ? this.resolved(norm, id) : undefined
  }

  rootfsOf(id: string): string {
    return path.join(this.root, id, 'rootfs')
  }

  /** Looks a reference up without building anything. */
  lookup(ref: string): ResolvedImage | undefined {
    const norm = normaliseReference(ref)
    const refs = this.readRefs()
    const direct = refs[norm]
    if (direct) return this.resolved(norm, direct)
    const target = builtinAliasTarget(norm)
    if (target && refs[target]) return { ...this.resolved(target, refs[target]!)!, alias: familiarReference(parseReference(norm)) }
    return undefined
  }

  private resolved(ref: string, id: string): ResolvedImage | undefined {
    const rec = this.record(id)
    if (!rec || !fs.existsSync(this.rootfsOf(id))) return undefined
    return { ref, id, rootfs: this.rootfsOf(id), config: rec.config }
  }

  /**
   * Looks a reference up; pulls it when missing (a built-in alias only from a mirror, falling back
   * to the built-in image when the mirror fails); builds the busybox image on first use of its name.
   */
  async resolve(ref: string, ctx: PullContext = {}): Promise<ResolvedImage | undefined> {
    const norm = normaliseReference(ref)
    const direct = this.lookupDirect(norm)
    if (direct) return direct
    const aliasTarget = builtinAliasTarget(norm)
    const pull = this.options.pull
    if (pull && (!aliasTarget || pull.hasMirror(parseReference(norm).domain))) {
      let pending = this.pulling.get(norm)
      if (!pending) {
        pending = pull.run(norm, ctx).finally(() => this.pulling.delete(norm))
        this.pulling.set(norm, pending)
      }
      try {
        await pending
        const got = this.lookupDirect(norm)
        if (got) return got
      } catch (e) {
        if (!aliasTarget) throw e
        ctx.log?.(`${familiarReference(parseReference(norm))}: not pulled from the mirror (${(e as Error).message}); using the built-in image ${familiarReference(parseReference(aliasTarget))}`)
      }
    }
    const found = this.lookup(ref)
    if (found || !this.options.autoBuild) return found
    const target = builtinAliasTarget(norm) ?? norm
    let pending = this.building.get(target)
    if (!pending) {
      pending = this.options.autoBuild(target).finally(() => this.building.delete(target))
      this.building.set(target, pending)
    }
    return (await pending) ? this.lookup(ref) : undefined
  }

  /** Every reference, built-in aliases of present images included, sorted by name. */
  list(): ImageListEntry[] {
    const refs = this.readRefs()
    const out: ImageListEntry[] = []
    for (const [ref, id] of Object.entries(refs)) {
      const rec = this.record(id)
      if (!rec) continue
      out.push({ ref, name: familiarReference(parseReference(ref)), id, source: rec.source, created: rec.created, sizeBytes: rec.sizeBytes, ...(rec.digest ? { digest: rec.digest } : {}), ...(rec.origin ? { origin: rec.origin } : {}) })
    }
    for (const [alias, target] of Object.entries(BUILTIN_ALIASES)) {
      const a = normaliseReference(alias)
      const t = normaliseReference(target)
      if (refs[a] || !refs[t]) continue
      const rec = this.record(refs[t]!)
      if (!rec) continue
      out.push({ ref: a, name: alias, id: refs[t]!, source: rec.source, created: rec.created, sizeBytes: rec.sizeBytes, aliasOf: target })
    }
    return out.sort((x, y) => x.name.localeCompare(y.name))
  }

  /** A staging folder for a new image; pass it to commit() once its rootfs/ is complete. */
  stage(): string {
    const dir = path.join(this.root, '.staging', `${Date.now().toString(36)}-${crypto.randomBytes(6).toString('hex')}`)
    fs.mkdirSync(path.join(dir, 'rootfs'), { recursive: true })
    return dir
  }

  /** Moves a staged image into the store under `ref` (replacing what that name pointed to). */
  commit(ref: string, staged: string, source: string, config: ImageConfig, provenance?: ImageProvenance): ImageListEntry {
    const norm = normaliseReference(ref)
    const rootfs = path.join(staged, 'rootfs')
    ensureMountPoints(rootfs)
    ensureUsers(rootfs)
    const id = crypto.createHash('sha256').update(`${norm}\0${staged}\0${Date.now()}`).digest('hex').slice(0, 16)
    const rec: ImageRecord = { id, created: new Date().toISOString(), source, sizeBytes: folderSize(rootfs), config, ...provenance }
    fs.writeFileSync(path.join(staged, 'image.json'), JSON.stringify(rec, null, 2) + '\n')
    fs.renameSync(staged, path.join(this.root, id))
    const refs = this.readRefs()
    const previous = refs[norm]
    refs[norm] = id
    this.writeRefs(refs)
    if (previous && previous !== id) this.dropIfUnused(previous)
    return { ref: norm, name: familiarReference(parseReference(norm)), id, source, created: rec.created, sizeBytes: rec.sizeBytes, ...(provenance ? { digest: provenance.digest, origin: provenance.origin } : {}) }
  }

  /** Sets the working directory of an image's processes (all names of the image see it). */
  setWorkdir(ref: string, workdir: string): void {
    if (!workdir.startsWith('/')) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `the working directory "${workdir}" must be absolute`)
    const found = this.lookup(ref)
    if (!found) throw new KindlingError('KINDLING_ERR_IMAGE_NOT_FOUND', this.notFoundMessage(ref))
    const rec = this.record(found.id)!
    rec.config.workdir = workdir
    fs.writeFileSync(path.join(this.root, found.id, 'image.json'), JSON.stringify(rec, null, 2) + '\n')
  }

  /** Gives an existing image another name. */
  tag(source: string, target: string): ImageListEntry {
    const from = this.lookup(source)
    if (!from) throw new KindlingError('KINDLING_ERR_IMAGE_NOT_FOUND', this.notFoundMessage(source))
    const norm = normaliseReference(target)
    const refs = this.readRefs()
    const previous = refs[norm]
    refs[norm] = from.id
    this.writeRefs(refs)
    if (previous && previous !== from.id) this.dropIfUnused(previous)
    const rec = this.record(from.id)!
    return { ref: norm, name: familiarReference(parseReference(norm)), id: from.id, source: rec.source, created: rec.created, sizeBytes: rec.sizeBytes }
  }

  /** Removes a name; the image's files go when no name points to them any more. */
  remove(ref: string): { removed: boolean; deletedImage: boolean } {
    const norm = normaliseReference(ref)
    const refs = this.readRefs()
    const id = refs[norm]
    if (!id) return { removed: false, deletedImage: false }
    delete refs[norm]
    this.writeRefs(refs)
    return { removed: true, deletedImage: this.dropIfUnused(id) }
  }

  private dropIfUnused(id: string): boolean {
    if (Object.values(this.readRefs()).includes(id)) return false
    fs.rmSync(path.join(this.root, id), { recursive: true, force: true })
    return true
  }

  /**
   * Garbage collection: layer blobs no image lists, image folders no name points to, and staging
   * leftovers go. Returns what was freed.
   */
  gc(graceMs = 15 * 60_000): { blobs: number; images: number; bytes: number } {
    const ids = new Set(Object.values(this.readRefs()))
    const used = new Set<string>()
    let images = 0
    let bytes = 0
    for (const e of fs.existsSync(this.root) ? fs.readdirSync(this.root) : []) {
      if (e === 'blobs' || e === 'refs.json' || e.startsWith('.')) continue
      if (!ids.has(e)) {
        if (!fs.existsSync(path.join(this.root, e, 'image.json'))) continue
        bytes += this.record(e)?.sizeBytes ?? 0
        fs.rmSync(path.join(this.root, e), { recursive: true, force: true })
        images++
        continue
      }
      for (const l of this.record(e)?.layers ?? []) used.add(l.replace(/^sha256:/, ''))
    }
    let blobs = 0
    const dir = path.join(this.root, 'blobs', 'sha256')
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      // a pull under way writes *.tmp-* and has not committed yet: its blobs look unused
      if (used.has(f) || f.includes('.tmp-') || this.pulling.size > 0) continue
      const st = fs.statSync(path.join(dir, f))
      // another process (the gateway, a CLI) may be between downloading and committing an image
      if (Date.now() - st.mtimeMs < graceMs) continue
      bytes += st.size
      fs.rmSync(path.join(dir, f), { force: true })
      blobs++
    }
    return { blobs, images, bytes }
  }

  /** Bytes of layer blobs kept for pulled images. */
  blobBytes(): number {
    const dir = path.join(this.root, 'blobs')
    return fs.existsSync(dir) ? folderSize(dir) : 0
  }

  /** Removes staging folders left by an interrupted build or import. */
  sweepStaging(): void {
    fs.rmSync(path.join(this.root, '.staging'), { recursive: true, force: true })
  }

  /** What to tell a user who deployed an image the store does not have. */
  notFoundMessage(ref: string): string {
    let shown = ref
    try {
      shown = `${ref} (${normaliseReference(ref)})`
    } catch {
      // an invalid reference is reported as given
    }
    const names = this.list().map((e) => (e.aliasOf ? `${e.name} (alias of ${e.aliasOf})` : e.name))
    const local = names.length ? names.join(', ') : 'none yet'
    return (
      `image ${shown} is not in kindling's local image store, and no registry can be reached from here. ` +
      `Local images: ${local}. Add it with "kindling image import ${ref} rootfs.tar" (a root filesystem tar, ` +
      `for example from "docker export"), or build one with "kindling image build busybox|node ${ref}"`
    )
  }
}

function builtinAliasTarget(norm: string): string | undefined {
  for (const [alias, target] of Object.entries(BUILTIN_ALIASES)) {
    if (normaliseReference(alias) === norm) return normaliseReference(target)
  }
  return undefined
}
