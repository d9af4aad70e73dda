// Layer extraction treats the layer as hostile (issue 14): nothing it holds may create, change or
// remove a file outside the rootfs. Hand-made attacks first, then a bounded random fuzz over names,
// symlinks and hard links that checks a sentinel tree next to the rootfs stays untouched.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { after, describe, it } from 'node:test'
import { extractLayer } from '../../../isolation/container/images/layer-extract.js'
import { ImageStore } from '../../../isolation/container/images/store.js'
import { isKindlingError } from '../../../isolation/errors.js'
import { gzip, makeTar, type TarEntry } from '../../helpers/oci-registry.js'

const dirs: string[] = []
function scene(): { root: string; outside: string; snapshot: () => string } {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-layer-'))
  dirs.push(d)
  const root = path.join(d, 'rootfs')
  const outside = path.join(d, 'outside')
  fs.mkdirSync(root)
  fs.mkdirSync(outside)
  fs.writeFileSync(path.join(outside, 'secret'), 'host file')
  const snapshot = (): string => {
    const out: string[] = []
    const walk = (p: string): void => {
      for (const e of fs.readdirSync(p, { withFileTypes: true })) {
        const q = path.join(p, e.name)
        if (q === root) continue
        const st = fs.lstatSync(q)
        out.push(`${path.relative(d, q)} ${st.mode} ${st.size} ${st.isFile() ? fs.readFileSync(q, 'utf8') : ''}`)
        if (e.isDirectory()) walk(q)
      }
    }
    walk(d)
    return out.sort().join('\n')
  }
  return { root, outside, snapshot }
}

async function apply(root: string, entries: TarEntry[], compress = false): Promise<void> {
  const tar = makeTar(entries)
  await extractLayer(Readable.from([compress ? gzip(tar) : tar]), root, { budget: { remaining: 1 << 24, limit: 1 << 24 }, what: 'test layer' })
}

const code = (c: string) => (e: unknown) => isKindlingError(e) && e.code === c

after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

describe('layer extraction', () => {
  it('refuses names with ".." and keeps the host untouched', async () => {
    const s = scene()
    const before = s.snapshot()
    await assert.rejects(apply(s.root, [{ name: '../outside/secret', data: 'pwned' }]), code('KINDLING_ERR_IMAGE_UNSAFE_LAYER'))
    await assert.rejects(apply(s.root, [{ name: 'a/../../outside/x', data: 'pwned' }]), code('KINDLING_ERR_IMAGE_UNSAFE_LAYER'))
    assert.equal(s.snapshot(), before)
  })

  it('treats absolute names as inside the rootfs', async () => {
    const s = scene()
    await apply(s.root, [{ name: '/etc/x', data: 'in' }])
    assert.equal(fs.readFileSync(path.join(s.root, 'etc/x'), 'utf8'), 'in')
  })

  it('follows symlinks inside the rootfs only: writing through a link to / or .. lands in the rootfs', async () => {
    const s = scene()
    const before = s.snapshot()
    await apply(s.root, [
      { name: 'abs', type: '2', linkname: s.outside },
      { name: 'abs/secret', data: 'pwned' },
      { name: 'up', type: '2', linkname: '../../../outside' },
      { name: 'up/new', data: 'pwned' },
      { name: 'rootlink', type: '2', linkname: '/' },
      { name: 'rootlink/tmp/y', data: 'in' },
    ], true)
    assert.equal(s.snapshot(), before, 'nothing outside changed')
    assert.equal(fs.readFileSync(path.join(s.root, s.outside, 'secret'), 'utf8'), 'pwned', 'the absolute link resolved inside the rootfs')
    assert.equal(fs.readFileSync(path.join(s.root, 'outside/new'), 'utf8'), 'pwned', '.. stopped at the rootfs')
    assert.equal(fs.readFileSync(path.join(s.root, 'tmp/y'), 'utf8'), 'in')
  })

  it('replaces a symlink named by a later entry instead of writing through it', async () => {
    const s = scene()
    const before = s.snapshot()
    await apply(s.root, [{ name: 'f', type: '2', linkname: path.join(s.outside, 'secret') }, { name: 'f', data: 'replaced' }])
    assert.equal(s.snapshot(), before)
    assert.equal(fs.lstatSync(path.join(s.root, 'f')).isFile(), true)
  })

  it('refuses hard links to files outside the rootfs, allows them inside', async () => {
    const s = scene()
    await assert.rejects(apply(s.root, [{ name: 'h', type: '1', linkname: '../outside/secret' }]), code('KINDLING_ERR_IMAGE_UNSAFE_LAYER'))
    await assert.rejects(apply(s.root, [{ name: 'h', type: '1', linkname: path.join(s.outside, 'secret') }]), code('KINDLING_ERR_IMAGE_UNSAFE_LAYER'))
    // through a symlink pointing out: resolved inside, where there is no such file
    await assert.rejects(apply(s.root, [{ name: 'l', type: '2', linkname: s.outside }, { name: 'h', type: '1', linkname: 'l/secret' }]), code('KINDLING_ERR_IMAGE_UNSAFE_LAYER'))
    assert.equal(fs.statSync(path.join(s.outside, 'secret')).nlink, 1)
    await apply(s.root, [{ name: 'a', data: 'x' }, { name: 'b', type: '1', linkname: 'a' }])
    assert.equal(fs.statSync(path.join(s.root, 'b')).ino, fs.statSync(path.join(s.root, 'a')).ino)
  })

  it('skips device nodes and fifos, drops setuid bits', async () => {
    const s = scene()
    await apply(s.root, [{ name: 'dev/mem', type: '3' }, { name: 'p', type: '6' }, { name: 'su', data: 'x', mode: 0o4755 }])
    assert.equal(fs.existsSync(path.join(s.root, 'dev/mem')), false)
    assert.equal(fs.existsSync(path.join(s.root, 'p')), false)
    assert.equal(fs.statSync(path.join(s.root, 'su')).mode & 0o7777, 0o755)
  })

  it('applies whiteouts in layer order and refuses a checksum error', async () => {
    const s = scene()
    await apply(s.root, [{ name: 'd/a', data: '1' }, { name: 'd/b', data: '2' }, { name: 'x', data: '3' }])
    await apply(s.root, [{ name: 'd/new', data: '4' }, { name: 'd/.wh..wh..opq' }, { name: '.wh.x' }])
    assert.deepEqual(fs.readdirSync(path.join(s.root, 'd')), ['new'])
    assert.equal(fs.existsSync(path.join(s.root, 'x')), false)
    const tar = makeTar([{ name: 'y', data: 'z' }])
    tar[0] = tar[0]! ^ 1
    await assert.rejects(extractLayer(Readable.from([tar]), s.root, { budget: { remaining: 1 << 20, limit: 1 << 20 }, what: 't' }), code('KINDLING_ERR_IMAGE_CORRUPT'))
  })

  it('stops at the unpacked-bytes budget (a layer that inflates)', async () => {
    const s = scene()
    const big = gzip(makeTar([{ name: 'zeros', data: Buffer.alloc(1 << 20) }]))
    assert.ok(big.length < 4096)
    await assert.rejects(extractLayer(Readable.from([big]), s.root, { budget: { remaining: 64 * 1024, limit: 64 * 1024 }, what: 't' }), code('KINDLING_ERR_IMAGE_TOO_LARGE'))
  })

  it('commits an image whose /tmp, /etc and /var are symlinks out without touching their targets', async () => {
    const s = scene()
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-layer-store-'))
    dirs.push(data)
    const store = new ImageStore(data)
    const staged = store.stage()
    fs.chmodSync(s.outside, 0o700)
    const before = s.snapshot()
    await apply(path.join(staged, 'rootfs'), [
      { name: 'tmp', type: '2', linkname: s.outside },
      { name: 'etc', type: '2', linkname: s.outside },
      { name: 'var', type: '2', linkname: `../../../..${s.outside}` },
      { name: 'run', type: '2', linkname: '/proc/self/cwd' },
    ])
    store.commit('evil/links:1', staged, 'test', { env: [] })
    assert.equal(s.snapshot(), before)
    assert.equal(fs.statSync(s.outside).mode & 0o7777, 0o700, 'chmod 1777 of /tmp did not follow the link')
  })

  it('fuzz: random names, symlinks and hard links never touch anything outside the rootfs', async () => {
    let seed = 1234567
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const parts = ['a', 'b', '..', '.', '', 'outside', 'secret', 'etc']
    const s0 = scene()
    const targets = ['/', '..', '../..', '../outside', s0.outside, `${s0.outside}/secret`, 'a', '/a/b', '.']
    const name = (): string => Array.from({ length: 1 + rnd(4) }, () => parts[rnd(parts.length)]).join('/')
    for (let round = 0; round < 150; round++) {
      const s = round === 0 ? s0 : scene()
      const before = s.snapshot()
      const entries: TarEntry[] = []
      for (let i = 0; i < 6; i++) {
        const k = rnd(4)
        if (k === 0) entries.push({ name: name(), data: 'pwned' })
        else if (k === 1) entries.push({ name: name(), type: '2', linkname: targets[rnd(targets.length)]! })
        else if (k === 2) entries.push({ name: name(), type: '1', linkname: name() })
        else entries.push({ name: name(), type: '5' })
      }
      await apply(s.root, entries).catch((e: unknown) => {
        if (!isKindlingError(e) && !/EEXIST|ENOENT|EISDIR|ENOTDIR|EPERM|EINVAL/.test(String(e))) throw e
      })
      assert.equal(s.snapshot(), before, `round ${round}: ${JSON.stringify(entries)}`)
      fs.rmSync(path.dirname(s.root), { recursive: true, force: true })
    }
  })
})
