// Imports an unpacked image archive: `docker save` (manifest.json with Config, RepoTags, Layers) or
// an OCI image layout (oci-layout, index.json, blobs/sha256/...). Layers are copied into the
// store's blobs by digest and unpacked with the same checks as a pull (diff_ids included). Every
// path the archive names is read inside the archive's folder only.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { KindlingError } from '../../errors.js'
import type { OciImageConfig } from './image-config.js'
import { resolveFileInRoot } from './layer-extract.js'
import { assembleImage, type Descriptor, hexOf, type Manifest, pickPlatform, hostPlatform, sha256 } from './pull.js'
import { normaliseReference } from './reference.js'
import type { ImageListEntry, ImageStore } from './store.js'

export type ArchiveFormat = 'docker-save' | 'oci-layout'

export function detectArchive(dir: string): ArchiveFormat | undefined {
  if (fs.existsSync(`${dir}/oci-layout`) && fs.existsSync(`${dir}/index.json`)) return 'oci-layout'
  if (fs.existsSync(`${dir}/manifest.json`) && !fs.existsSync(`${dir}/bin`) && !fs.existsSync(`${dir}/usr`)) return 'docker-save'
  return undefined
}

function bad(what: string, why: string): KindlingError {
  return new KindlingError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: ${why}`)
}

function readIn(dir: string, name: string, cap: number, what: string): Buffer {
  const p = resolveFileInRoot(dir, name)
  if (!p) throw bad(what, `it names ${name}, which the archive does not hold`)
  const st = fs.statSync(p)
  if (!st.isFile()) throw bad(what, `${name} is not a file`)
  if (st.size > cap) throw new KindlingError('KINDLING_ERR_IMAGE_TOO_LARGE', `${what}: ${name} is larger than ${cap} bytes`)
  return fs.readFileSync(p)
}

/** Copies a file of the archive into the store's blobs; returns its digest. */
function storeBlob(store: ImageStore, dir: string, name: string, what: string, expect?: string): Descriptor {
  const p = resolveFileInRoot(dir, name)
  if (!p || !fs.statSync(p).isFile()) throw bad(what, `it names the layer ${name}, which the archive does not hold`)
  const h = createHash('sha256')
  const fd = fs.openSync(p, 'r')
  const buf = Buffer.alloc(1 << 20)
  let n: number
  let size = 0
  while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) {
    h.update(buf.subarray(0, n))
    size += n
  }
  fs.closeSync(fd)
  const digest = `sha256:${h.digest('hex')}`
  if (expect && digest !== expect) throw bad(what, `${name} has digest ${digest}, not ${expect} (digest mismatch)`)
  const dest = store.blobPath(hexOf(digest, what))
  if (!fs.existsSync(dest)) {
    const tmp = `${dest}.tmp-${process.pid}`
    fs.copyFileSync(p, tmp)
    fs.chmodSync(tmp, 0o600)
    fs.renameSync(tmp, dest)
  }
  return { digest, size }
}

function json<T>(b: Buffer, what: string): T {
  try {
    return JSON.parse(b.toString('utf8')) as T
  } catch {
    throw bad(what, 'a manifest or config is not JSON')
  }
}

export async function importImageArchive(
  store: ImageStore,
  ref: string | undefined,
  dir: string,
  origin: string,
  caps: { maxManifestBytes: number; maxUnpackedBytes: number },
): Promise<ImageListEntry> {
  const format = detectArchive(dir)
  const what = origin
  if (format === 'docker-save') {
    const list = json<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }[]>(readIn(dir, 'manifest.json', caps.maxManifestBytes, what), what)
    const m = list[0]
    if (!m?.Config || !Array.isArray(m.Layers)) throw bad(what, 'manifest.json names no Config or Layers')
    if (list.length > 1 && !ref) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${what} holds ${list.length} images; name the one to import (NAME:TAG)`)
    const chosen = ref ? (list.find((e) => (e.RepoTags ?? []).some((t) => normaliseReference(t) === normaliseReference(ref))) ?? m) : m
    const cbytes = readIn(dir, chosen.Config!, caps.maxManifestBytes, what)
    const config = json<OciImageConfig>(cbytes, what)
    const layers = chosen.Layers!.map((l) => storeBlob(store, dir, l, what))
    const name = ref ?? chosen.RepoTags?.[0]
    if (!name) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${what} has no RepoTags; give the image a name: kindling image import NAME:TAG ${origin}`)
    return assembleImage(store, name, layers, config, { digest: sha256(cbytes), origin, source: `import:${origin}`, maxUnpackedBytes: caps.maxUnpackedBytes })
  }
  if (format === 'oci-layout') {
    let index = json<Manifest & { manifests?: (Descriptor & { annotations?: Record<string, string> })[] }>(readIn(dir, 'index.json', caps.maxManifestBytes, what), what)
    let top = (index.manifests ?? [])[0] as (Descriptor & { annotations?: Record<string, string> }) | undefined
    if (!top) throw bad(what, 'index.json lists no image')
    const refName = top.annotations?.['io.containerd.image.name'] ?? top.annotations?.['org.opencontainers.image.ref.name']
    let desc: Descriptor = index.manifests!.some((d) => d.platform) ? pickPlatform(index, hostPlatform(), what) : top
    let mbytes = readIn(dir, `blobs/sha256/${hexOf(desc.digest, what)}`, caps.maxManifestBytes, what)
    if (sha256(mbytes) !== desc.digest) throw bad(what, `the manifest ${desc.digest} does not match its digest`)
    let manifest = json<Manifest>(mbytes, what)
    if (manifest.manifests) {
      index = manifest
      desc = pickPlatform(index, hostPlatform(), what)
      mbytes = readIn(dir, `blobs/sha256/${hexOf(desc.digest, what)}`, caps.maxManifestBytes, what)
      if (sha256(mbytes) !== desc.digest) throw bad(what, `the manifest ${desc.digest} does not match its digest`)
      manifest = json<Manifest>(mbytes, what)
    }
    top = undefined
    if (!manifest.config || !manifest.layers) throw bad(what, 'the manifest has no config or layers')
    const cbytes = readIn(dir, `blobs/sha256/${hexOf(manifest.config.digest, what)}`, caps.maxManifestBytes, what)
    if (sha256(cbytes) !== manifest.config.digest) throw bad(what, 'the config does not match its digest (digest mismatch)')
    const config = json<OciImageConfig>(cbytes, what)
    const layers = manifest.layers.map((l) => storeBlob(store, dir, `blobs/sha256/${hexOf(l.digest, what)}`, what, l.digest))
    let name = ref
    if (!name && refName) name = refName.includes('/') || refName.includes(':') ? refName : undefined
    if (!name) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${what} names no image; give it a name: kindling image import NAME:TAG ${origin}`)
    return assembleImage(store, name, layers, config, { digest: desc.digest, origin, source: `import:${origin}`, maxUnpackedBytes: caps.maxUnpackedBytes })
  }
  throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${what} is not a docker save or OCI layout archive`)
}
