// Container images in the cluster: a node's image store holds root filesystems imported from a tar
// (`kindling image import`) or built from this machine's files (busybox, node). When a gateway takes
// a deploy of an image its own store has, the rootfs goes as a tar into the object store
// kindling_images (once per reference); a worker that lacks the image fetches the tar before it
// prepares the function (sha256 checked) and imports it. Built-in aliases (functions/alpine and
// busybox) are not shipped: every worker builds them from its own busybox-static.
import { createHash } from 'node:crypto'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ObjectStore } from '@nats-io/obj'
import { type ImageStore, importRootfsTar, normaliseReference } from '../../isolation/container/images/index.js'
import { KindlingError } from '../errors.js'
import { mkdirPrivate } from '../registry/private.js'

export const IMAGES_BUCKET = 'kindling_images'

/** what travels with the tar (the object's description) */
interface ImageMeta {
  sha256: string
  env: string[]
}

export class ClusterImages {
  private readonly tmp: string

  constructor(
    private readonly objects: ObjectStore,
    private readonly store: ImageStore,
    dataDir: string,
  ) {
    this.tmp = path.join(dataDir, 'cluster-images')
  }

  /** Puts an image this node has into the cluster, unless it is there (or is a built-in alias). */
  async share(image: string): Promise<void> {
    const local = this.store.lookup(image)
    if (!local || local.alias) return
    if (await this.objects.info(local.ref)) return
    const file = this.tempFile()
    try {
      await run('tar', ['-C', local.rootfs, '--numeric-owner', '-cf', file, '.'])
      const meta: ImageMeta = { sha256: await sha256Of(file), env: local.config.env }
      await this.objects.put({ name: local.ref, description: JSON.stringify(meta) }, Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>)
    } finally {
      fs.rmSync(file, { force: true })
    }
  }

  /** Brings an image this node lacks from the cluster; false when the cluster has none either. */
  async fetch(image: string): Promise<boolean> {
    if (this.store.lookup(image)) return true
    const ref = normaliseReference(image)
    const info = await this.objects.info(ref)
    if (!info || info.deleted) return false
    const meta = JSON.parse(info.description ?? '{}') as ImageMeta
    const got = await this.objects.get(ref)
    if (!got) return false
    const file = this.tempFile()
    try {
      await pipeline(Readable.fromWeb(got.data as import('node:stream/web').ReadableStream<Uint8Array>), fs.createWriteStream(file, { mode: 0o600 }))
      const err = await got.error
      if (err) throw err
      if ((await sha256Of(file)) !== meta.sha256) throw new KindlingError('KINDLING_ERR_IMAGE_NOT_FOUND', `the cluster's copy of image ${ref} is damaged (its sha256 does not match)`)
      await importRootfsTar(this.store, ref, file, { env: meta.env })
      return true
    } finally {
      fs.rmSync(file, { force: true })
    }
  }

  private tempFile(): string {
    mkdirPrivate(this.tmp)
    return path.join(this.tmp, `${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}.tar`)
  }
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256')
  await pipeline(fs.createReadStream(file), h)
  return h.digest('hex')
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${err.trim()}`))))
  })
}
