// Imports a root filesystem tar (the output of `docker export`, `podman export`, or `tar -C dir -c .`)
// into the store. Compressed tars work too: GNU tar detects gzip, xz and zstd itself.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { KindlingError } from '../../errors.js'
import { DEFAULT_PATH, mergeEnv } from './builders.js'
import { detectArchive, importImageArchive } from './archive-import.js'
import type { ImageListEntry, ImageStore } from './store.js'

export interface ImportOptions {
  /** default environment, "KEY=value" */
  env?: string[]
  /** caps for image archives (docker save / OCI layout) */
  maxManifestBytes?: number
  maxUnpackedBytes?: number
}

function untar(tarPath: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fromStdin = tarPath === '-'
    // --no-same-permissions is not wanted: root keeps modes and owners as in the archive
    const p = spawn('tar', ['-x', '--numeric-owner', '-f', fromStdin ? '-' : tarPath, '-C', dest], {
      stdio: [fromStdin ? 'inherit' : 'ignore', 'ignore', 'pipe'],
    })
    let err = ''
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited with ${code}: ${err.trim()}`))))
  })
}

/**
 * Imports a root filesystem tar, or an image archive (docker save, OCI layout: detected by their
 * index files) with its config; `ref` may be left out for an archive that names its image.
 */
export async function importRootfsTar(store: ImageStore, ref: string | undefined, tarPath: string, opts: ImportOptions = {}): Promise<ImageListEntry> {
  if (tarPath !== '-' && !fs.existsSync(tarPath)) {
    throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${tarPath} does not exist`)
  }
  const staged = store.stage()
  const rootfs = path.join(staged, 'rootfs')
  try {
    await untar(tarPath, rootfs)
    const top = fs.readdirSync(rootfs)
    if (detectArchive(rootfs)) {
      const origin = tarPath === '-' ? 'stdin' : path.resolve(tarPath)
      const e = await importImageArchive(store, ref, rootfs, origin, { maxManifestBytes: opts.maxManifestBytes ?? 4 * 1048576, maxUnpackedBytes: opts.maxUnpackedBytes ?? 4096 * 1048576 })
      fs.rmSync(staged, { recursive: true, force: true })
      return e
    }
    if (!ref) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${tarPath} is a root filesystem tar; give the image a name (NAME:TAG)`)
    if (top.length === 0) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `${tarPath} is empty`)
    const source = tarPath === '-' ? 'import:stdin' : `import:${path.resolve(tarPath)}`
    return store.commit(ref, staged, source, { env: mergeEnv([DEFAULT_PATH], opts.env ?? []) })
  } catch (e) {
    fs.rmSync(staged, { recursive: true, force: true })
    if (e instanceof KindlingError) throw e
    throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `could not import ${tarPath}: ${(e as Error).message}`)
  }
}
