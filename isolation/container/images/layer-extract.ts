// Applies image layers (tar, gzip or zstd; the compression is read from the first bytes) to a
// rootfs folder, the way a container engine does, with the layer treated as untrusted input:
//
// - names with ".." are refused; leading "/" and "./" are dropped
// - symlinks in a path are followed inside the rootfs only (an absolute or climbing target is
//   clamped at the rootfs, as if chrooted), so a symlink to /etc cannot be written through
// - the last component is never followed: a new entry replaces whatever was there
// - a hard link must name a file already inside the rootfs (resolved the same way)
// - device nodes and fifos are skipped; setuid/setgid bits are dropped (files stay on the host's disk)
// - whiteouts: ".wh.NAME" removes NAME from lower layers, ".wh..wh..opq" empties its folder of them
// - the tar header checksums are checked, and unpacked bytes count against a cap
import { createHash, type Hash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import zlib from 'node:zlib'
import { Decompress } from 'fzstd'
import { KindlingError } from '../../errors.js'

const BLOCK = 512
const WH = '.wh.'
const OPAQUE = '.wh..wh..opq'

export interface ExtractOptions {
  /** unpacked bytes still allowed (all layers of the image share one budget) */
  budget: { remaining: number; limit: number }
  /** for messages */
  what: string
}

export interface ExtractResult {
  /** sha256 of the uncompressed tar, "sha256:<hex>" (the layer's diff_id) */
  diffId: string
  skipped: number
}

function unsafe(what: string, why: string): KindlingError {
  return new KindlingError('KINDLING_ERR_IMAGE_UNSAFE_LAYER', `${what}: ${why}`)
}

function corrupt(what: string, why: string): KindlingError {
  return new KindlingError('KINDLING_ERR_IMAGE_CORRUPT', `${what}: ${why}`)
}

/**
 * The plain tar bytes of a layer, gzip, zstd or plain (decided on the first bytes). A generator, so
 * that the next piece is only decompressed once the caller has written the last one: a layer that
 * inflates a thousandfold never sits in memory (zstd is fed 1 KiB at a time for the same reason).
 */
async function* decode(input: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]()
  let head = Buffer.alloc(0)
  while (head.length < 4) {
    const n = await it.next()
    if (n.done) break
    head = Buffer.concat([head, Buffer.from(n.value)])
  }
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head
    for (;;) {
      const n = await it.next()
      if (n.done) return
      yield Buffer.from(n.value)
    }
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gz = zlib.createGunzip()
    const src = Readable.from(rest())
    src.on('error', (e) => gz.destroy(e))
    src.pipe(gz)
    for await (const c of gz as AsyncIterable<Buffer>) yield c
    return
  }
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) {
    const out: Buffer[] = []
    const z = new Decompress((d) => {
      if (d.length) out.push(Buffer.from(d))
    })
    const SLICE = 1024
    for await (const c of rest()) {
      for (let i = 0; i < c.length; i += SLICE) {
        z.push(c.subarray(i, i + SLICE))
        while (out.length) yield out.shift()!
      }
    }
    z.push(new Uint8Array(0), true)
    while (out.length) yield out.shift()!
    return
  }
  yield* rest()
}

function octal(buf: Buffer, off: number, len: number): number {
  // base-256 (GNU) for large values: high bit of the first byte set
  if (buf[off]! & 0x80) {
    let v = buf[off]! & 0x7f
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i]!
    return v
  }
  const s = buf.toString('latin1', off, off + len).replace(/\0.*$/s, '').trim()
  return s === '' ? 0 : parseInt(s, 8)
}

function cstr(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off)
  return buf.toString('utf8', off, end < 0 || end > off + len ? off + len : end)
}

interface Header {
  name: string
  linkname: string
  type: string
  mode: number
  uid: number
  gid: number
  size: number
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {}
  let i = 0
  while (i < data.length) {
    const sp = data.indexOf(0x20, i)
    if (sp < 0) break
    const len = Number(data.toString('latin1', i, sp))
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) break
    const rec = data.toString('utf8', sp + 1, i + len - 1)
    const eq = rec.indexOf('=')
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1)
    i += len
  }
  return out
}

/** Splits a member name into safe components; throws on "..". */
export function memberComponents(name: string, what: string): string[] {
  if (name.includes('\0')) throw unsafe(what, `the entry name "${name}" holds a NUL byte`)
  const parts = name.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) throw unsafe(what, `the entry "${name}" climbs out of the image with ".."`)
  return parts
}

/**
 * The host path of `comps` inside `root`, following symlinks of every component but the last
 * inside the rootfs only. Missing folders are created when `create` is set, else undefined is returned.
 */
export function resolveInRoot(root: string, comps: string[], create: boolean, what: string): string | undefined {
  const cur: string[] = []
  const todo = [...comps]
  let hops = 0
  while (todo.length > 1) {
    const c = todo.shift()!
    if (c === '..') {
      cur.pop()
      continue
    }
    if (c === '.' || c === '') continue
    const p = path.join(root, ...cur, c)
    let st: fs.Stats | undefined
    try {
      st = fs.lstatSync(p)
    } catch {
      st = undefined
    }
    if (!st) {
      if (!create) return undefined
      fs.mkdirSync(p, { mode: 0o755 })
      cur.push(c)
    } else if (st.isSymbolicLink()) {
      if (++hops > 40) throw unsafe(what, `too many symlinks under /${comps.join('/')}`)
      const target = fs.readlinkSync(p)
      if (target.startsWith('/')) cur.length = 0
      todo.unshift(...target.split('/'))
    } else if (st.isDirectory()) {
      cur.push(c)
    } else {
      if (!create) return undefined
      // a file where this layer needs a folder: the folder replaces it
      fs.rmSync(p, { force: true })
      fs.mkdirSync(p, { mode: 0o755 })
      cur.push(c)
    }
  }
  const last = todo[0]
  if (last === undefined) return path.join(root, ...cur)
  if (last === '..' || last === '.' || last === '') throw unsafe(what, `the entry /${comps.join('/')} has no name`)
  return path.join(root, ...cur, last)
}

/** Like resolveInRoot, following a symlink in the last component too (inside the rootfs); for reads. */
export function resolveFileInRoot(root: string, name: string): string | undefined {
  let comps = memberComponents(name, name)
  for (let hops = 0; hops < 40; hops++) {
    const p = resolveInRoot(root, comps, false, name)
    const st = p ? lstatOrUndefined(p) : undefined
    if (!p || !st) return undefined
    if (!st.isSymbolicLink()) return p
    const target = fs.readlinkSync(p)
    const parent = path.relative(root, path.dirname(p)).split(path.sep).filter(Boolean)
    comps = target.startsWith('/') ? target.split('/').filter(Boolean) : [...parent, ...target.split('/').filter(Boolean)]
    // ".." cannot climb above the rootfs
    const out: string[] = []
    for (const c of comps) {
      if (c === '..') out.pop()
      else if (c !== '.') out.push(c)
    }
    comps = out
  }
  return undefined
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p)
  } catch {
    return undefined
  }
}

/** Extracts one layer from `input` (a stream of the blob as stored) into `root`. */
export async function extractLayer(input: NodeJS.ReadableStream, root: string, opts: ExtractOptions): Promise<ExtractResult> {
  const hash: Hash = createHash('sha256')
  const created = new Set<string>()
  const whiteouts: string[][] = []
  let skipped = 0
  let pending = Buffer.alloc(0)
  // state of the member being read
  let header: Header | undefined
  let remaining = 0
  let padding = 0
  let fd: number | undefined
  let meta: Buffer[] | undefined
  let longName: string | undefined
  let longLink: string | undefined
  let pax: Record<string, string> = {}
  let ended = false

  const charge = (n: number): void => {
    opts.budget.remaining -= n
    if (opts.budget.remaining < 0) {
      throw new KindlingError('KINDLING_ERR_IMAGE_TOO_LARGE', `${opts.what}: the image unpacks to more than ${opts.budget.limit} bytes (KINDLING_IMAGE_MAX_UNPACKED_BYTES)`)
    }
  }

  const finishMember = (): void => {
    if (fd !== undefined) {
      fs.closeSync(fd)
      fd = undefined
    }
    if (meta && header) {
      const data = Buffer.concat(meta)
      if (header.type === 'L') longName = cstr(data, 0, data.length)
      else if (header.type === 'K') longLink = cstr(data, 0, data.length)
      else if (header.type === 'x') pax = parsePax(data)
    }
    meta = undefined
    header = undefined
  }

  const begin = (h: Header): void => {
    const name = longName ?? pax['path'] ?? h.name
    const linkname = longLink ?? pax['linkpath'] ?? h.linkname
    if (pax['size'] !== undefined) h.size = Number(pax['size'])
    if (pax['uid'] !== undefined) h.uid = Number(pax['uid'])
    if (pax['gid'] !== undefined) h.gid = Number(pax['gid'])
    longName = longLink = undefined
    pax = {}
    const comps = memberComponents(name, opts.what)
    if (comps.length === 0) {
      // the root folder itself ("./"): nothing to create
      return
    }
    const base = comps[comps.length - 1]!
    if (base.startsWith(WH)) {
      whiteouts.push(comps)
      applyWhiteout(comps)
      return
    }
    const target = resolveInRoot(root, comps, true, opts.what)!
    const existing = lstatOrUndefined(target)
    const mode = h.mode & 0o1777 // no setuid/setgid on the host's disk
    const own = (): void => {
      try {
        fs.lchownSync(target, h.uid, h.gid)
      } catch {
        // not root (tests as a user): owners stay ours
      }
    }
    switch (h.type) {
      case '0':
      case '\0':
      case '7': {
        if (existing) fs.rmSync(target, { recursive: true, force: true })
        fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600)
        own()
        fs.fchmodSync(fd, mode)
        break
      }
      case '5': {
        if (existing && !existing.isDirectory()) fs.rmSync(target, { force: true })
        if (!existing || !existing.isDirectory()) fs.mkdirSync(target, { mode: 0o755 })
        own()
        fs.chmodSync(target, mode)
        break
      }
      case '2': {
        if (existing) fs.rmSync(target, { recursive: true, force: true })
        fs.symlinkSync(linkname, target)
        own()
        break
      }
      case '1': {
        const lcomps = memberComponents(linkname, opts.what)
        const source = lcomps.length ? resolveInRoot(root, lcomps, false, opts.what) : undefined
        const sst = source ? lstatOrUndefined(source) : undefined
        if (!source || !sst) throw unsafe(opts.what, `the hard link ${name} names ${linkname}, which is not in the image`)
        if (sst.isDirectory()) throw unsafe(opts.what, `the hard link ${name} names the folder ${linkname}`)
        if (source === target) break
        if (existing) fs.rmSync(target, { recursive: true, force: true })
        fs.linkSync(source, target)
        break
      }
      default:
        // '3' char, '4' block devices, '6' fifos: never on the host's disk
        skipped++
        return
    }
    created.add(target)
  }

  const applyWhiteout = (comps: string[]): void => {
    const base = comps[comps.length - 1]!
    if (base === OPAQUE) {
      const dir = resolveInRoot(root, [...comps.slice(0, -1), 'x'], false, opts.what)
      if (!dir) return
      const folder = path.dirname(dir)
      for (const e of fs.readdirSync(folder)) {
        const p = path.join(folder, e)
        if (!created.has(p)) fs.rmSync(p, { recursive: true, force: true })
      }
      return
    }
    const hidden = base.slice(WH.length)
    if (hidden === '' || hidden === '.' || hidden === '..') throw unsafe(opts.what, `the whiteout /${comps.join('/')} names nothing`)
    const p = resolveInRoot(root, [...comps.slice(0, -1), hidden], false, opts.what)
    if (p && !created.has(p)) fs.rmSync(p, { recursive: true, force: true })
  }

  const consume = (buf: Buffer): void => {
    let off = 0
    while (off < buf.length && !ended) {
      if (header && remaining > 0) {
        const n = Math.min(remaining, buf.length - off)
        const slice = buf.subarray(off, off + n)
        if (fd !== undefined) {
          charge(n)
          let w = 0
          while (w < n) w += fs.writeSync(fd, slice, w, n - w)
        } else if (meta) {
          meta.push(Buffer.from(slice))
        }
        remaining -= n
        off += n
        if (remaining === 0) {
          padding = (BLOCK - (header.size % BLOCK)) % BLOCK
          finishMember()
        }
        continue
      }
      if (padding > 0) {
        const n = Math.min(padding, buf.length - off)
        padding -= n
        off += n
        continue
      }
      // a header block: gather 512 bytes
      const need = BLOCK - pending.length
      const take = Math.min(need, buf.length - off)
      pending = Buffer.concat([pending, buf.subarray(off, off + take)])
      off += take
      if (pending.length < BLOCK) continue
      const block = pending
      pending = Buffer.alloc(0)
      if (block.every((b) => b === 0)) {
        ended = true // end-of-archive marker; trailing blocks are ignored
        break
      }
      let sum = 0
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!
      if (sum !== octal(block, 148, 8)) throw corrupt(opts.what, 'a tar header has a wrong checksum (not a tar layer, or damaged)')
      const type = String.fromCharCode(block[156]!)
      const magic = block.toString('latin1', 257, 262)
      let name = cstr(block, 0, 100)
      if (magic === 'ustar') {
        const prefix = cstr(block, 345, 155)
        if (prefix) name = `${prefix}/${name}`
      }
      const h: Header = { name, linkname: cstr(block, 157, 100), type, mode: octal(block, 100, 8), uid: octal(block, 108, 8), gid: octal(block, 116, 8), size: octal(block, 124, 12) }
      if (!Number.isSafeInteger(h.size) || h.size < 0) throw corrupt(opts.what, 'a tar header has an impossible size')
      header = h
      if (type === 'L' || type === 'K' || type === 'x' || type === 'g') {
        if (h.size > 1024 * 1024) throw corrupt(opts.what, 'a tar extended header is larger than 1 MiB')
        meta = []
        if (type === 'g') meta = undefined
      } else {
        begin(h)
        if (pax['size'] !== undefined) delete pax['size']
      }
      // hard links, symlinks, folders carry no data whatever their size says (except the extensions)
      remaining = type === '0' || type === '\0' || type === '7' || meta !== undefined || type === 'g' ? h.size : 0
      if (remaining === 0) {
        padding = type === 'g' ? (BLOCK - (h.size % BLOCK)) % BLOCK : 0
        if (type === 'g') remaining = 0
        finishMember()
      }
    }
  }

  try {
    for await (const chunk of decode(input as AsyncIterable<Buffer>)) {
      hash.update(chunk)
      if (!ended) consume(chunk)
    }
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd)
    if (e instanceof KindlingError) throw e
    throw corrupt(opts.what, `the layer could not be read: ${(e as Error).message}`)
  }
  if (fd !== undefined) fs.closeSync(fd)
  if (header && remaining > 0) throw corrupt(opts.what, 'the layer ends in the middle of a file')
  return { diffId: `sha256:${hash.digest('hex')}`, skipped }
}
