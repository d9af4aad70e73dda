// The local image store: builders from host files, import from a rootfs tar, names and aliases,
// the message for an unknown image, and the `kindling image` CLI.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it, mock } from 'node:test'
import {
  buildBusyboxImage,
  buildNodeImage,
  findStaticBusybox,
  importRootfsTar,
  isStaticElf,
  openImageStore,
} from '../../../isolation/container/images/index.js'
import { sharedLibraries } from '../../../isolation/container/images/builders.js'
import { imageCommand } from '../../../runtime/cli/image.js'
import { isKindlingError } from '../../../runtime/errors.js'
import { REPO } from './helpers.js'

const skip = findStaticBusybox() ? false : 'busybox-static is not installed (apt-get install busybox-static)'

describe('image store', { skip }, () => {
  let dataDir: string
  before(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-img-'))
  })
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }))

  it('builds busybox from busybox-static and resolves functions/alpine to it', async () => {
    const store = openImageStore(dataDir)
    const e = buildBusyboxImage(store)
    assert.equal(e.name, 'kindling/busybox:latest')
    const rootfs = store.rootfsOf(e.id)
    assert.ok(isStaticElf(path.join(rootfs, 'bin/busybox')))
    for (const applet of ['bin/sh', 'bin/cat', 'usr/bin/env', 'usr/bin/sha512sum']) assert.ok(fs.existsSync(path.join(rootfs, applet)), applet)
    for (const mp of ['proc', 'dev', 'tmp', 'var/openfaas/secrets', 'run/kindling']) assert.ok(fs.statSync(path.join(rootfs, mp)).isDirectory(), mp)
    for (const ref of ['functions/alpine:latest', 'docker.io/functions/alpine:latest', 'functions/alpine', 'ghcr.io/openfaas/alpine:latest']) {
      const r = await store.resolve(ref)
      assert.equal(r?.id, e.id, ref)
    }
    const names = store.list().map((x) => x.name)
    assert.ok(names.includes('functions/alpine:latest') && names.includes('kindling/busybox:latest'))
  })

  it('builds busybox on first use of functions/alpine in an empty store', async () => {
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-img-auto-'))
    try {
      const store = openImageStore(fresh)
      assert.equal(store.lookup('functions/alpine:latest'), undefined)
      const r = await store.resolve('functions/alpine:latest')
      assert.ok(r && fs.existsSync(path.join(r.rootfs, 'bin/busybox')))
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true })
    }
  })

  it('builds node from the host binary and its ldd libraries, with files added', () => {
    const store = openImageStore(dataDir)
    const e = buildNodeImage(store, { ref: 'test/node:1', add: [[path.join(REPO, 'functions/container/node-http'), '/home/app']], env: ['mode=http'], link: true })
    const rootfs = store.rootfsOf(e.id)
    assert.ok(fs.existsSync(path.join(rootfs, 'usr/bin/node')))
    for (const lib of sharedLibraries(process.execPath)) assert.ok(fs.existsSync(path.join(rootfs, lib)), lib)
    assert.ok(fs.existsSync(path.join(rootfs, 'home/app/server.mjs')))
    assert.ok(store.lookup('test/node:1')!.config.env.includes('mode=http'))
    // the binary runs inside its rootfs alone
    const out = execFileSync('chroot', [rootfs, '/usr/bin/node', '-e', 'console.log(1+1)'], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } })
    assert.equal(out.trim(), '2')
  })

  it('imports a rootfs tar, tags, lists and removes', async () => {
    const store = openImageStore(dataDir)
    const tar = path.join(dataDir, 'bb.tar')
    execFileSync('tar', ['-C', store.lookup('kindling/busybox:latest')!.rootfs, '-cf', tar, '.'])
    const e = await importRootfsTar(store, 'example.org/tools/bb:2', tar, { env: ['fprocess=cat'] })
    assert.equal(e.ref, 'example.org/tools/bb:2')
    const r = store.lookup('example.org/tools/bb:2')!
    assert.ok(fs.existsSync(path.join(r.rootfs, 'bin/busybox')))
    assert.ok(r.config.env.includes('fprocess=cat'))
    store.tag('example.org/tools/bb:2', 'bb:copy')
    assert.equal(store.lookup('bb:copy')!.id, e.id)
    assert.deepEqual(store.remove('example.org/tools/bb:2'), { removed: true, deletedImage: false })
    assert.ok(fs.existsSync(r.rootfs), 'still named bb:copy')
    assert.deepEqual(store.remove('bb:copy'), { removed: true, deletedImage: true })
    assert.ok(!fs.existsSync(r.rootfs))
    assert.deepEqual(store.remove('bb:copy'), { removed: false, deletedImage: false })
  })

  it('reads a docker save archive as one (a broken one is IMAGE_CORRUPT), and refuses a missing file', async () => {
    const store = openImageStore(dataDir)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-save-'))
    fs.writeFileSync(path.join(dir, 'manifest.json'), '[]')
    fs.writeFileSync(path.join(dir, 'layer.tar'), '')
    const tar = path.join(dataDir, 'saved.tar')
    execFileSync('tar', ['-C', dir, '-cf', tar, '.'])
    fs.rmSync(dir, { recursive: true })
    await assert.rejects(importRootfsTar(store, 'saved:1', tar), (e: unknown) => isKindlingError(e) && e.code === 'KINDLING_ERR_IMAGE_CORRUPT' && /manifest.json names no Config/.test(e.message))
    await assert.rejects(importRootfsTar(store, 'missing:1', path.join(dataDir, 'nope.tar')), (e: unknown) => isKindlingError(e) && e.code === 'KINDLING_ERR_INVALID_FIELD')
    assert.equal(fs.readdirSync(path.join(store.root, '.staging')).length, 0, 'no staging left behind')
  })

  it('says what is there and how to add an unknown image', () => {
    const msg = openImageStore(dataDir).notFoundMessage('acme/thing:3')
    assert.match(msg, /acme\/thing:3 \(docker\.io\/acme\/thing:3\)/)
    assert.match(msg, /kindling\/busybox:latest/)
    assert.match(msg, /functions\/alpine:latest \(alias of kindling\/busybox:latest\)/)
    assert.match(msg, /kindling image import acme\/thing:3 rootfs\.tar/)
    assert.match(msg, /kindling image build busybox\|node/)
  })
})

describe('kindling image CLI', { skip }, () => {
  let dataDir: string
  before(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-imgcli-'))
  })
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }))

  async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = []
    const err: string[] = []
    const l = mock.method(console, 'log', (...a: unknown[]) => void out.push(a.join(' ')))
    const e = mock.method(console, 'error', (...a: unknown[]) => void err.push(a.join(' ')))
    try {
      const code = await imageCommand(argv, dataDir)
      return { code, out: out.join('\n'), err: err.join('\n') }
    } finally {
      l.mock.restore()
      e.mock.restore()
    }
  }

  it('builds, imports, lists, tags and removes', async () => {
    assert.equal((await run('build', 'busybox')).code, 0)
    const tar = path.join(dataDir, 'rootfs.tar')
    execFileSync('tar', ['-C', openImageStore(dataDir).lookup('kindling/busybox:latest')!.rootfs, '-cf', tar, '.'])
    const imp = await run('import', 'my/tools:1', tar, '--env', 'fprocess=env', '--workdir', '/tmp')
    assert.equal(imp.code, 0, imp.err)
    assert.match(imp.out, /imported my\/tools:1/)
    assert.equal(openImageStore(dataDir).lookup('my/tools:1')!.config.workdir, '/tmp')
    const list = await run('list')
    assert.match(list.out, /^NAME\s+ID\s+SIZE\s+DIGEST\s+ORIGIN/)
    assert.match(list.out, /functions\/alpine:latest .*alias of kindling\/busybox:latest/)
    assert.match(list.out, /my\/tools:1/)
    const json = JSON.parse((await run('list', '--json')).out) as { name: string }[]
    assert.ok(json.some((x) => x.name === 'my/tools:1'))
    assert.equal((await run('tag', 'my/tools:1', 'my/tools:2')).code, 0)
    assert.equal((await run('remove', 'my/tools:1')).code, 0)
    assert.equal((await run('remove', 'my/tools:1')).code, 1)
  })

  it('answers usage errors with exit 2 and bad input with exit 1', async () => {
    assert.equal((await run()).code, 2)
    assert.equal((await run('build', 'python')).code, 2)
    assert.equal((await run('import')).code, 2)
    assert.equal((await run('build', 'busybox', '--env', 'notakv')).code, 2)
    const bad = await run('import', 'Bad Name', '/etc/hostname')
    assert.equal(bad.code, 1)
    assert.match(bad.err, /KINDLING_ERR_INVALID_FIELD/)
  })
})
