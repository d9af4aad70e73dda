// Pulls an image from a registry into the store: manifest (or an index, from which linux/<this
// machine's arch> is picked), config, then the layers. Layers are kept content-addressed in
// images/blobs/sha256/<hex> and shared by every image that lists them (a second image with the
// same base downloads only its own layers); each blob's sha256 is checked while it is written,
// and each layer's uncompressed sha256 against the config's diff_ids while it is unpacked.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { imageConfigFromOci, type OciImageConfig } from './image-config.js'
import { extractLayer } from './layer-extract.js'
import { familiarReference, formatReference, parseReference } from './reference.js'
import { type Credentials, credentialsFor, endpointFor, readCapped, registryError, RegistrySession, type RegistrySettings, streamChunks } from './registry-client.js'
import type { ImageListEntry, ImageStore } from './store.js'

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
}
const ACCEPT = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(', ')
const LAYER_TYPES = /^application\/vnd\.(oci\.image\.layer\.v1\.tar(\+gzip|\+zstd)?|docker\.image\.rootfs\.diff\.tar\.gzip)$/

export interface Descriptor {
  mediaType?: string
  digest: string
  size: number
  platform?: { os?: string; architecture?: string; variant?: string }
  urls?: string[]
}

export interface Manifest {
  schemaVersion?: number
  mediaType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
}

export interface PullOptions {
  settings: RegistrySettings
  /** a docker config.json: the registry-auth secret of the function's namespace, else the auth file */
  authConfigs: (string | Buffer)[]
  /** progress lines */
  log?: (text: string) => void
  /** the platform to pick from an index (default linux/<this machine>) */
  platform?: { os: string; architecture: string }
}

export function hostPlatform(): { os: string; architecture: string } {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch
  return { os: 'linux', architecture: arch }
}

const DIGEST = /^sha256:([a-f0-9]{64})$/

export function hexOf(digest: string, what: string): string {
  const m = DIGEST.exec(digest)
  if (!m) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: "${digest}" is not a sha256 digest`)
  return m[1]!
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`
}

/** Chooses the manifest for `want` from an index; a clear error lists what the index has. */
export function pickPlatform(index: Manifest, want: { os: string; architecture: string }, what: string): Descriptor {
  const list = index.manifests ?? []
  const found = list.find((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture)
  if (found) return found
  const have = list.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}${m.platform?.variant ? `/${m.platform.variant}` : ''}`).filter((p) => !p.startsWith('unknown/'))
  throw registryError('KINDLING_ERR_IMAGE_PLATFORM', `${what} has no ${want.os}/${want.architecture} image; it has ${have.join(', ') || 'none'}`)
}

/** Checks a manifest's layers and the total size before anything is downloaded. */
export function checkManifest(m: Manifest, s: RegistrySettings, what: string): { config: Descriptor; layers: Descriptor[] } {
  if (!m.config || !Array.isArray(m.layers)) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: the manifest has no config or layers`)
  let total = 0
  for (const l of m.layers) {
    hexOf(l.digest, what)
    if (l.mediaType && !LAYER_TYPES.test(l.mediaType)) {
      throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: layer ${l.digest.slice(0, 19)} has media type ${l.mediaType}, which kindling cannot unpack (tar, tar+gzip, tar+zstd)`)
    }
    if (!Number.isSafeInteger(l.size) || l.size < 0) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: layer ${l.digest.slice(0, 19)} has no valid size`)
    total += l.size
  }
  if (total > s.maxLayerBytes) throw registryError('KINDLING_ERR_IMAGE_TOO_LARGE', `${what}: its layers are ${total} bytes, above KINDLING_IMAGE_MAX_LAYER_BYTES (${s.maxLayerBytes})`)
  hexOf(m.config.digest, what)
  if (m.config.size > s.maxManifestBytes) throw registryError('KINDLING_ERR_IMAGE_TOO_LARGE', `${what}: its config is ${m.config.size} bytes, above KINDLING_IMAGE_MAX_MANIFEST_BYTES`)
  return { config: m.config, layers: m.layers }
}

function parseJson<T>(b: Buffer, what: string): T {
  try {
    return JSON.parse(b.toString('utf8')) as T
  } catch {
    throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what} is not JSON`)
  }
}

async function getManifest(session: RegistrySession, refPart: string, s: RegistrySettings, what: string, ref: string, expect?: string): Promise<{ manifest: Manifest; digest: string; bytes: Buffer }> {
  const r = await session.get(`manifests/${refPart}`, ACCEPT)
  const bytes = await readCapped(r, s.maxManifestBytes, `the manifest of ${what}`)
  if (r.status === 404) {
    let code = ''
    try {
      code = (JSON.parse(bytes.toString()) as { errors?: { code?: string }[] }).errors?.[0]?.code ?? ''
    } catch {
      // no error body
    }
    // some registries say MANIFEST_UNKNOWN for a repository that does not exist: its tag list tells
    if (code !== 'NAME_UNKNOWN') {
      const t = await session.get('tags/list', 'application/json')
      const tb = await readCapped(t, 64 * 1024, `the tags of ${what}`).catch(() => Buffer.alloc(0))
      if (t.status === 404) code = 'NAME_UNKNOWN'
      else if (t.status === 200) {
        try {
          const tags = (JSON.parse(tb.toString()) as { tags?: string[] | null }).tags
          if (!tags || tags.length === 0) code = 'NAME_UNKNOWN'
        } catch {
          // keep the manifest's code
        }
      }
    }
    if (code === 'NAME_UNKNOWN') throw registryError('KINDLING_ERR_IMAGE_NOT_FOUND', `image ${ref}: ${session.what} has no repository of that name (NAME_UNKNOWN)`)
    throw registryError('KINDLING_ERR_IMAGE_TAG_NOT_FOUND', `image ${ref}: ${session.what} has no manifest "${refPart}"${code ? ` (${code})` : ''}`)
  }
  if (r.status === 401 || r.status === 403) throw registryError('KINDLING_ERR_REGISTRY_AUTH', `registry ${session.what} refused the pull of ${ref} (${r.status})`)
  if (r.status !== 200) throw registryError('KINDLING_ERR_REGISTRY_UNREACHABLE', `registry ${session.what} answered ${r.status} for the manifest of ${ref}`)
  const digest = sha256(bytes)
  if (expect && digest !== expect) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: the manifest's digest is ${digest}, not ${expect}`)
  const manifest = parseJson<Manifest>(bytes, `the manifest of ${what}`)
  return { manifest, digest, bytes }
}

/** Downloads a blob to `dest` (via a temporary file), checking size and digest. */
async function fetchBlob(session: RegistrySession, d: Descriptor, dest: string, what: string, log?: (t: string) => void): Promise<void> {
  const hex = hexOf(d.digest, what)
  const r = await session.get(`blobs/${d.digest}`)
  if (r.status !== 200) {
    await r.body?.cancel().catch(() => {})
    r.done()
    if (r.status === 401 || r.status === 403) throw registryError('KINDLING_ERR_REGISTRY_AUTH', `registry ${session.what} refused blob ${d.digest.slice(0, 19)} (${r.status})`)
    if (r.status === 404) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: the registry lists blob ${d.digest} but does not have it`)
    throw registryError('KINDLING_ERR_REGISTRY_UNREACHABLE', `registry ${session.what} answered ${r.status} for blob ${d.digest.slice(0, 19)}`)
  }
  const tmp = `${dest}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
  const fd = fs.openSync(tmp, 'wx', 0o600)
  const h = createHash('sha256')
  let n = 0
  let lastLog = Date.now()
  try {
    for await (const c of streamChunks(r, `blob ${d.digest.slice(0, 19)} of ${what}`)) {
      n += c.length
      if (n > d.size) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: blob ${d.digest.slice(0, 19)} is longer than the ${d.size} bytes its manifest says`)
      h.update(c)
      let w = 0
      while (w < c.length) w += fs.writeSync(fd, c, w, c.length - w)
      if (log && Date.now() - lastLog > 2000) {
        lastLog = Date.now()
        log(`pulling ${what}: ${d.digest.slice(7, 19)} ${mib(n)}/${mib(d.size)}`)
      }
    }
    r.done()
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    if (n !== d.size) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: blob ${d.digest.slice(0, 19)} is ${n} bytes, its manifest says ${d.size}`)
    const got = h.digest('hex')
    if (got !== hex) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: blob ${d.digest} arrived with digest sha256:${got} (digest mismatch: corrupt or tampered layer)`)
    fs.renameSync(tmp, dest)
  } catch (e) {
    r.done()
    try {
      fs.closeSync(fd)
    } catch {
      // closed already
    }
    fs.rmSync(tmp, { force: true })
    throw e
  }
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`
}

/** Unpacks the layers (blobs in the store) into a staged rootfs and commits the image. */
export async function assembleImage(
  store: ImageStore,
  ref: string,
  layers: Descriptor[],
  config: OciImageConfig,
  meta: { digest: string; origin: string; source: string; maxUnpackedBytes: number; log?: (t: string) => void },
): Promise<ImageListEntry> {
  const what = familiarReference(parseReference(ref))
  const diffIds = config.rootfs?.diff_ids
  if (Array.isArray(diffIds) && diffIds.length !== layers.length) {
    throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: the config lists ${diffIds.length} layers, the manifest ${layers.length}`)
  }
  const staged = store.stage()
  const rootfs = path.join(staged, 'rootfs')
  const budget = { remaining: meta.maxUnpackedBytes, limit: meta.maxUnpackedBytes }
  try {
    for (const [i, l] of layers.entries()) {
      const blob = store.blobPath(hexOf(l.digest, what))
      const r = await extractLayer(fs.createReadStream(blob), rootfs, { budget, what: `${what} layer ${i + 1}/${layers.length}` })
      if (diffIds && diffIds[i] !== r.diffId) {
        throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: layer ${i + 1} unpacks to ${r.diffId}, the config says ${diffIds[i]} (digest mismatch)`)
      }
      if (r.skipped) meta.log?.(`${what}: layer ${i + 1} has ${r.skipped} device nodes or fifos; they were skipped`)
    }
    return store.commit(ref, staged, meta.source, imageConfigFromOci(config), {
      digest: meta.digest,
      origin: meta.origin,
      layers: layers.map((l) => l.digest),
    })
  } catch (e) {
    fs.rmSync(staged, { recursive: true, force: true })
    throw e
  }
}

/** Pulls `ref` into the store under its normalised name. */
export async function pullImage(store: ImageStore, ref: string, opts: PullOptions): Promise<ImageListEntry> {
  const r = parseReference(ref)
  const norm = formatReference(r)
  const what = familiarReference(r)
  const s = opts.settings
  const ep = endpointFor(r, s)
  let creds: Credentials | undefined
  for (const c of opts.authConfigs) {
    creds = credentialsFor(c, ep.host) ?? (ep.mirror ? undefined : credentialsFor(c, r.domain))
    if (creds) break
  }
  const log = opts.log
  const session = new RegistrySession(ep.base, r.path, creds, s, log)
  const origin = `${ep.base.origin}/${r.path}${ep.mirror ? ` (mirror of ${r.domain})` : ''}`
  log?.(`pulling ${what} from ${origin}`)
  let m = await getManifest(session, r.digest ?? r.tag, s, what, what, r.digest)
  const topDigest = m.digest
  if (m.manifest.manifests) {
    const pick = pickPlatform(m.manifest, opts.platform ?? hostPlatform(), what)
    hexOf(pick.digest, what)
    m = await getManifest(session, pick.digest, s, what, what, pick.digest)
    if (m.manifest.manifests) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: an index points to another index`)
  }
  const existing = store.lookupDirect(norm)
  if (existing && store.record(existing.id)?.digest === m.digest) {
    log?.(`${what} is up to date (${m.digest.slice(0, 19)})`)
    return store.list().find((e) => e.ref === norm)!
  }
  const { config, layers } = checkManifest(m.manifest, s, what)
  const cr = await session.get(`blobs/${config.digest}`)
  if (cr.status !== 200) {
    await cr.body?.cancel().catch(() => {})
    cr.done()
    throw registryError(cr.status === 401 || cr.status === 403 ? 'KINDLING_ERR_REGISTRY_AUTH' : 'KINDLING_ERR_IMAGE_CORRUPT', `${what}: the registry answered ${cr.status} for its config ${config.digest.slice(0, 19)}`)
  }
  const cbytes = await readCapped(cr, s.maxManifestBytes, `the config of ${what}`)
  if (sha256(cbytes) !== config.digest) throw registryError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: its config arrived with another digest than ${config.digest} (digest mismatch)`)
  const ociConfig = parseJson<OciImageConfig>(cbytes, `the config of ${what}`)
  let fetched = 0
  for (const [i, l] of layers.entries()) {
    const dest = store.blobPath(hexOf(l.digest, what))
    if (fs.existsSync(dest)) {
      log?.(`pulling ${what}: layer ${i + 1}/${layers.length} ${l.digest.slice(7, 19)} already present`)
      continue
    }
    log?.(`pulling ${what}: layer ${i + 1}/${layers.length} ${l.digest.slice(7, 19)} (${mib(l.size)})`)
    await fetchBlob(session, l, dest, what, log)
    fetched += l.size
  }
  const entry = await assembleImage(store, norm, layers, ociConfig, {
    digest: m.digest,
    origin,
    source: `pull:${origin}`,
    maxUnpackedBytes: s.maxUnpackedBytes,
    log,
  })
  log?.(`pulled ${what} (${m.digest.slice(0, 19)}${topDigest !== m.digest ? `, from index ${topDigest.slice(0, 19)}` : ''}): ${layers.length} layers, ${mib(fetched)} downloaded, ${mib(entry.sizeBytes)} unpacked`)
  return entry
}

