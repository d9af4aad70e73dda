// Images from a real registry (issue 14): Debian's docker-registry on a loopback port, images built
// here from busybox-static layers (gzip and zstd, whiteouts, an index with two platforms) and pushed
// with the registry API. Pulls through the store, errors with their codes, token auth, mirrors, and
// an HTTP function (busybox httpd answering a 302 from its env) run from a pulled image.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it, mock } from 'node:test'
import { findStaticBusybox, openImageStore, type RegistrySettings } from '../../../isolation/container/images/index.js'
import { isKindlingError } from '../../../isolation/errors.js'
import { imageCommand } from '../../../runtime/cli/image.js'
import { loadConfig } from '../../../runtime/config.js'
import { digest, gzip, htpasswdLine, LAYER, makeTar, Pusher, registrySkipReason, startRegistry, type RunningRegistry, TokenServer, zstd } from '../../helpers/oci-registry.js'
import { artifact, containerSkipReason, makeHarness, never, request } from './helpers.js'

const skip = registrySkipReason() ?? (findStaticBusybox() ? undefined : 'busybox-static is not installed')

function settings(over: Partial<RegistrySettings> = {}): RegistrySettings {
  return { mirrors: {}, insecure: [], timeoutMs: 5000, maxManifestBytes: 4 << 20, maxLayerBytes: 1 << 30, maxUnpackedBytes: 1 << 30, ...over }
}

const code = (c: string) => (e: unknown) => isKindlingError(e) && e.code === c

function baseLayer(): Buffer {
  const bb = fs.readFileSync(findStaticBusybox()!)
  const cgi = '#!/bin/sh\nprintf "Status: 302 Found\\r\\nLocation: %s\\r\\nContent-Type: text/plain\\r\\n\\r\\n" "$REDIRECT_TO"\n'
  return makeTar([
    { name: 'bin/', type: '5' },
    { name: 'bin/busybox', data: bb, mode: 0o755 },
    { name: 'bin/sh', type: '2', linkname: 'busybox' },
    { name: 'bin/cat', type: '2', linkname: 'busybox' },
    { name: 'old/', type: '5' },
    { name: 'old/a', data: 'a' },
    { name: 'old/b', data: 'b' },
    { name: 'gone.txt', data: 'lower' },
    { name: 'www/cgi-bin/', type: '5' },
    { name: 'www/cgi-bin/r', data: cgi, mode: 0o755 },
    { name: 'www/cgi-bin/id', data: '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\n/bin/busybox id -u\n/bin/busybox id -g\n', mode: 0o755 },
    { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' },
  ])
}

function topLayer(): Buffer {
  return makeTar([
    { name: '.wh.gone.txt' },
    { name: 'old/.wh..wh..opq' },
    { name: 'old/c', data: 'c' },
    { name: 'etc/hello', data: 'from the zstd layer' },
  ])
}

describe('container images pulled from a registry', { skip }, () => {
  let reg: RunningRegistry
  let pusher: Pusher
  const base = baseLayer()
  const baseGz = gzip(base)
  const top = topLayer()
  const topZ = zstd(top)
  const httpConfig = {
    config: {
      Env: ['PATH=/bin', 'REDIRECT_TO=https://image.example/'],
      Entrypoint: ['/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'],
      ExposedPorts: { '8080/tcp': {} },
      WorkingDir: '/www',
    },
  }
  const dirs: string[] = []
  const tmpDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-pull-'))
    dirs.push(d)
    return d
  }

  before(async () => {
    reg = await startRegistry()
    pusher = new Pusher(reg.url)
    assert.ok(topZ, 'the zstd CLI compresses the second layer (apt-get install zstd)')
    const amd = await pusher.image('fn/web', 'amd64', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }, { bytes: topZ!, uncompressed: top, mediaType: LAYER.zstd }], httpConfig)
    const arm = await pusher.image('fn/web', 'arm64', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }], httpConfig, { os: 'linux', architecture: 'arm64' })
    await pusher.index('fn/web', 'latest', [arm, amd])
    await pusher.image('fn/user', 'latest', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }], { config: { ...httpConfig.config, User: 'app' } })
    const armOnly = await pusher.image('fn/armonly', 'arm64', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }], httpConfig, { os: 'linux', architecture: 'arm64' })
    await pusher.index('fn/armonly', 'latest', [armOnly])
    // the same base layer under another repository: shared on disk once pulled
    await pusher.image('fn/other', 'latest', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }], { config: { Env: ['fprocess=cat'] } })
  })
  after(async () => {
    await reg?.stop()
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  })

  it('pulls linux/amd64 from an index: gzip and zstd layers, whiteouts in order, config, shared blobs', async () => {
    const store = openImageStore(tmpDir(), { settings: settings({ insecure: [reg.host] }) })
    const logs: string[] = []
    const img = await store.resolve(`${reg.host}/fn/web:latest`, { log: (t) => logs.push(t) })
    assert.ok(img)
    assert.equal(fs.readFileSync(path.join(img.rootfs, 'etc/hello'), 'utf8'), 'from the zstd layer')
    assert.equal(fs.existsSync(path.join(img.rootfs, 'gone.txt')), false, '.wh.gone.txt removed the lower file')
    assert.deepEqual(fs.readdirSync(path.join(img.rootfs, 'old')).sort(), ['c'], 'the opaque whiteout hid a and b, kept c of its own layer')
    assert.equal(fs.readlinkSync(path.join(img.rootfs, 'bin/sh')), 'busybox')
    assert.deepEqual(img.config.entrypoint, httpConfig.config.Entrypoint)
    assert.equal(img.config.workdir, '/www')
    assert.deepEqual(img.config.exposedPorts, ['8080/tcp'])
    assert.ok(logs.some((l) => /pulling .*fn\/web:latest.*layer 2\/2/.test(l)), logs.join('\n'))
    const listed = store.list().find((e) => e.name === `${reg.host}/fn/web:latest`)
    assert.match(listed?.digest ?? '', /^sha256:[0-9a-f]{64}$/)
    assert.match(listed?.origin ?? '', /fn\/web/)
    // another image with the same base layer downloads only what it lacks
    logs.length = 0
    const other = await store.resolve(`${reg.host}/fn/other:latest`, { log: (t) => logs.push(t) })
    assert.ok(other)
    assert.ok(logs.some((l) => /layer 1\/1 .* already present/.test(l)), logs.join('\n'))
    assert.equal(fs.readdirSync(path.join(store.root, 'blobs', 'sha256')).length, 2)
    // GC keeps both layers while images use them, drops the zstd one after its image goes
    assert.equal(store.gc(0).blobs, 0)
    store.remove(`${reg.host}/fn/web:latest`)
    assert.equal(store.gc(0).blobs, 1)
    assert.equal(fs.readdirSync(path.join(store.root, 'blobs', 'sha256')).length, 1)
  })

  it('answers with a code: unknown image, unknown tag, other platform only, plain HTTP not allowed', async () => {
    const store = openImageStore(tmpDir(), { settings: settings({ insecure: [reg.host] }) })
    await assert.rejects(store.resolve(`${reg.host}/fn/nothing:1`), code('KINDLING_ERR_IMAGE_NOT_FOUND'))
    await assert.rejects(store.resolve(`${reg.host}/fn/web:nope`), code('KINDLING_ERR_IMAGE_TAG_NOT_FOUND'))
    await assert.rejects(store.resolve(`${reg.host}/fn/armonly:latest`), (e: unknown) => code('KINDLING_ERR_IMAGE_PLATFORM')(e) && /linux\/arm64/.test((e as Error).message))
    const strict = openImageStore(tmpDir(), { settings: settings() })
    await assert.rejects(strict.resolve(`${reg.host}/fn/web:latest`), (e: unknown) => code('KINDLING_ERR_REGISTRY_UNREACHABLE')(e) && /KINDLING_INSECURE_REGISTRIES/.test((e as Error).message))
  })

  it('refuses a layer whose bytes do not match its digest, and keeps nothing of it', async () => {
    const layer = gzip(makeTar([{ name: 'x', data: 'original' }]))
    const pushed = await pusher.image('fn/corrupt', 'latest', [{ bytes: layer, uncompressed: makeTar([{ name: 'x', data: 'original' }]), mediaType: LAYER.gzip }], {})
    assert.ok(pushed)
    const hex = digest(layer).slice(7)
    const data = path.join(reg.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data')
    const tampered = Buffer.from(layer)
    tampered[tampered.length - 9] = tampered[tampered.length - 9]! ^ 0xff
    fs.writeFileSync(data, tampered)
    const store = openImageStore(tmpDir(), { settings: settings({ insecure: [reg.host] }) })
    await assert.rejects(store.resolve(`${reg.host}/fn/corrupt:latest`), (e: unknown) => code('KINDLING_ERR_IMAGE_CORRUPT')(e) && /digest mismatch/.test((e as Error).message))
    assert.equal(fs.existsSync(path.join(store.root, 'blobs', 'sha256', hex)), false)
  })

  it('fails with REGISTRY_UNREACHABLE, not a hang, when the registry accepts and never answers', async () => {
    const sockets: net.Socket[] = []
    const silent = net.createServer((s) => sockets.push(s))
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const host = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`
    try {
      const store = openImageStore(tmpDir(), { settings: settings({ insecure: [host], timeoutMs: 300 }) })
      await assert.rejects(store.resolve(`${host}/fn/web:latest`), code('KINDLING_ERR_REGISTRY_UNREACHABLE'))
    } finally {
      for (const s of sockets) s.destroy()
      silent.close()
    }
  })

  it('drops credentials on a redirect to another origin, and fails a blob that stalls mid-body', async () => {
    // a front registry with basic auth: manifests proxied from the real registry, blobs redirected
    // to a CDN-like server (another origin) that records the headers it gets
    const seen: (string | undefined)[] = []
    let stall = false
    const cdn = http.createServer((req, res) => {
      seen.push(req.headers.authorization)
      res.writeHead(307, { location: `${reg.url}${req.url}` }).end()
    })
    await new Promise<void>((r) => cdn.listen(0, '127.0.0.1', r))
    const cdnUrl = `http://127.0.0.1:${(cdn.address() as net.AddressInfo).port}`
    const front = http.createServer(async (req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="front"' }).end()
        return
      }
      if (req.url!.includes('/blobs/') && stall) {
        res.writeHead(200, { 'content-length': '100000' })
        res.write(Buffer.alloc(100)) // and nothing more
        return
      }
      if (req.url!.includes('/blobs/')) {
        res.writeHead(307, { location: `${cdnUrl}${req.url}` }).end()
        return
      }
      const up = await fetch(`${reg.url}${req.url}`, { headers: { accept: String(req.headers.accept ?? '') } })
      const body = Buffer.from(await up.arrayBuffer())
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' }).end(body)
    })
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r))
    const host = `127.0.0.1:${(front.address() as net.AddressInfo).port}`
    try {
      const creds = Buffer.from(JSON.stringify({ auths: { [host]: { username: 'u', password: 'p' } } }))
      const store = openImageStore(tmpDir(), { settings: settings({ insecure: [host] }) })
      assert.ok(await store.resolve(`${host}/fn/other:latest`, { authConfig: creds }))
      assert.ok(seen.length >= 2, 'config and layer came through the other origin')
      assert.deepEqual(seen.filter(Boolean), [], 'no Authorization reached the other origin')
      stall = true
      const again = openImageStore(tmpDir(), { settings: settings({ insecure: [host], timeoutMs: 400 }) })
      await assert.rejects(again.resolve(`${host}/fn/other:latest`, { authConfig: creds }), code('KINDLING_ERR_REGISTRY_UNREACHABLE'))
    } finally {
      front.closeAllConnections()
      cdn.closeAllConnections()
      front.close()
      cdn.close()
    }
  })

  it('caps the manifest, the downloaded layers and the unpacked bytes', async () => {
    const store = openImageStore(tmpDir(), { settings: settings({ insecure: [reg.host], maxManifestBytes: 100 }) })
    await assert.rejects(store.resolve(`${reg.host}/fn/other:latest`), code('KINDLING_ERR_IMAGE_TOO_LARGE'))
    const few = openImageStore(tmpDir(), { settings: settings({ insecure: [reg.host], maxLayerBytes: 4096 }) })
    await assert.rejects(few.resolve(`${reg.host}/fn/other:latest`), (e: unknown) => code('KINDLING_ERR_IMAGE_TOO_LARGE')(e) && /KINDLING_IMAGE_MAX_LAYER_BYTES/.test((e as Error).message))
    const blobs = path.join(few.root, 'blobs', 'sha256')
    assert.equal(fs.existsSync(blobs) ? fs.readdirSync(blobs).length : 0, 0, 'nothing downloaded')
    const small = openImageStore(tmpDir(), { settings: settings({ insecure: [reg.host], maxUnpackedBytes: 4096 }) })
    await assert.rejects(small.resolve(`${reg.host}/fn/other:latest`), code('KINDLING_ERR_IMAGE_TOO_LARGE'))
  })

  it('resolves functions/alpine from a docker.io mirror, and falls back to the built-in image when the mirror lacks it', async () => {
    const layer = makeTar([{ name: 'bin/busybox', data: fs.readFileSync(findStaticBusybox()!), mode: 0o755 }, { name: 'bin/cat', type: '2', linkname: 'busybox' }, { name: 'mirror-was-here', data: '1' }])
    await pusher.image('functions/alpine', 'latest', [{ bytes: gzip(layer), uncompressed: layer, mediaType: LAYER.gzip }], { config: { Env: ['fprocess=cat'] } })
    const store = openImageStore(tmpDir(), { settings: settings({ mirrors: { 'docker.io': reg.url } }) })
    const img = await store.resolve('functions/alpine:latest')
    assert.ok(img && fs.existsSync(path.join(img.rootfs, 'mirror-was-here')), 'pulled from the mirror')
    assert.equal(img.alias, undefined)
    const logs: string[] = []
    const fallback = await store.resolve('ghcr.io/openfaas/alpine:latest', { log: (t) => logs.push(t) })
    assert.ok(fallback, 'ghcr.io has no mirror: the built-in busybox image')
    assert.equal(fallback.alias, 'ghcr.io/openfaas/alpine:latest')
    const onlyMirror = openImageStore(tmpDir(), { settings: settings({ mirrors: { 'docker.io': reg.url } }) })
    const bb = await onlyMirror.resolve('busybox:latest', { log: (t) => logs.push(t) })
    assert.equal(bb?.alias, 'busybox:latest', 'the mirror has no library/busybox: built in')
    assert.ok(logs.some((l) => /not pulled from the mirror/.test(l)), logs.join('\n'))
  })

  it('pulls with a bearer token: credentials from a docker config.json file, or a registry-auth secret; a wrong password is AUTH', async () => {
    const tokens = new TokenServer({ alice: 's3cret' })
    await tokens.start()
    const secured = await startRegistry({ token: { realm: tokens.url, service: tokens.service, issuer: tokens.issuer, certPem: tokens.certPem } })
    try {
      const push = new Pusher(secured.url, `Bearer ${tokens.sign({ iss: tokens.issuer, sub: 'alice', aud: tokens.service, exp: Math.floor(Date.now() / 1000) + 600, nbf: 0, iat: 0, jti: 'p', access: [{ type: 'repository', name: 'team/fn', actions: ['pull', 'push'] }] })}`)
      await push.image('team/fn', '1', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }], { config: { Env: ['fprocess=cat'] } })
      const ref = `${secured.host}/team/fn:1`
      const anon = openImageStore(tmpDir(), { settings: settings({ insecure: [secured.host] }) })
      await assert.rejects(anon.resolve(ref), code('KINDLING_ERR_REGISTRY_AUTH'))
      const authFile = path.join(tmpDir(), 'config.json')
      const cfg = (user: string, pass: string) => JSON.stringify({ auths: { [`http://${secured.host}`]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } })
      fs.writeFileSync(authFile, cfg('alice', 'wrong'))
      const wrong = openImageStore(tmpDir(), { settings: settings({ insecure: [secured.host] }), authFile })
      await assert.rejects(wrong.resolve(ref), (e: unknown) => code('KINDLING_ERR_REGISTRY_AUTH')(e) && /refused the credentials/.test((e as Error).message))
      fs.writeFileSync(authFile, cfg('alice', 's3cret'))
      const withFile = openImageStore(tmpDir(), { settings: settings({ insecure: [secured.host] }), authFile })
      assert.ok(await withFile.resolve(ref))
      const withSecret = openImageStore(tmpDir(), { settings: settings({ insecure: [secured.host] }) })
      assert.ok(await withSecret.resolve(ref, { authConfig: Buffer.from(cfg('alice', 's3cret')) }))
      // the tier reads the namespace's registry-auth secret at deploy (it is not mounted into the function)
      if (!containerSkipReason()) {
        const h = makeHarness({ registry: { insecure: [secured.host], mirrors: {} } })
        try {
          await assert.rejects(h.tier.prepare(artifact({ image: ref, envProcess: 'cat' })), code('KINDLING_ERR_REGISTRY_AUTH'))
          h.secrets.set('openfaas-fn/registry-auth', Buffer.from(cfg('alice', 's3cret')))
          const p = await h.tier.prepare(artifact({ image: ref, envProcess: 'cat' }))
          assert.equal(p.plan.image.ref, `${secured.host}/team/fn:1`)
        } finally {
          await h.close()
        }
      }
    } finally {
      await secured.stop()
      await tokens.stop()
    }
  })

  it('pulls from a registry with basic auth (htpasswd); a wrong password is AUTH', async (t) => {
    const line = htpasswdLine('bob', 'pa55')
    if (!line) return void t.skip('python3 (with its crypt module) is needed to write the bcrypt htpasswd the registry reads')
    const secured = await startRegistry({ htpasswd: line })
    try {
      const basic = `Basic ${Buffer.from('bob:pa55').toString('base64')}`
      await new Pusher(secured.url, basic).image('team/basic', '1', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }], { config: { Env: ['fprocess=cat'] } })
      const ref = `${secured.host}/team/basic:1`
      const cfg = (pass: string) => Buffer.from(JSON.stringify({ auths: { [secured.host]: { username: 'bob', password: pass } } }))
      const store = openImageStore(tmpDir(), { settings: settings({ insecure: [secured.host] }) })
      await assert.rejects(store.resolve(ref), (e: unknown) => code('KINDLING_ERR_REGISTRY_AUTH')(e) && /none is configured/.test((e as Error).message))
      await assert.rejects(store.resolve(ref, { authConfig: cfg('nope') }), code('KINDLING_ERR_REGISTRY_AUTH'))
      assert.ok(await store.resolve(ref, { authConfig: cfg('pa55') }))
    } finally {
      await secured.stop()
    }
  })

  it('kindling image pull / import (docker save and OCI layout, detected) / list / gc', async () => {
    const dataDir = tmpDir()
    const out: string[] = []
    const l = mock.method(console, 'log', (...a: unknown[]) => void out.push(a.join(' ')))
    const e = mock.method(console, 'error', (...a: unknown[]) => void out.push(a.join(' ')))
    try {
      const config = loadConfig({ KINDLING_INSECURE_REGISTRIES: reg.host })
      assert.equal(await imageCommand(['pull', `${reg.host}/fn/web:latest`], dataDir, config), 0, out.join('\n'))
      const layer = makeTar([{ name: 'saved', data: 'from an archive' }, { name: 'bin/', type: '5' }])
      const cfg = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Env: ['fprocess=cat', 'PATH=/bin'], WorkingDir: '/srv' }, rootfs: { type: 'layers', diff_ids: [digest(layer)] } }))
      const saved = path.join(dataDir, 'saved.tar')
      fs.writeFileSync(saved, makeTar([
        { name: 'manifest.json', data: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['saved/img:1'], Layers: ['abc/layer.tar'] }]) },
        { name: 'cfg.json', data: cfg },
        { name: 'abc/', type: '5' },
        { name: 'abc/layer.tar', data: layer },
      ]))
      assert.equal(await imageCommand(['import', saved], dataDir, config), 0, out.join('\n'))
      const gz = gzip(layer)
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(cfg), size: cfg.length }, layers: [{ mediaType: LAYER.gzip, digest: digest(gz), size: gz.length }] }))
      const oci = path.join(dataDir, 'oci.tar')
      const blob = (b: Buffer) => ({ name: `blobs/sha256/${digest(b).slice(7)}`, data: b })
      fs.writeFileSync(oci, makeTar([
        { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
        { name: 'index.json', data: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(manifest), size: manifest.length }] }) },
        blob(manifest), blob(cfg), blob(gz),
      ]))
      assert.equal(await imageCommand(['import', 'oci/img:2', oci], dataDir, config), 0, out.join('\n'))
      const store = openImageStore(dataDir)
      for (const ref of ['saved/img:1', 'oci/img:2']) {
        const img = store.lookup(ref)
        assert.ok(img, ref)
        assert.equal(fs.readFileSync(path.join(img.rootfs, 'saved'), 'utf8'), 'from an archive')
        assert.equal(img.config.workdir, '/srv')
      }
      out.length = 0
      assert.equal(await imageCommand(['list'], dataDir, config), 0)
      const table = out.join('\n')
      assert.match(table, /NAME\s+ID\s+SIZE\s+DIGEST\s+ORIGIN/)
      assert.match(table, new RegExp(`${reg.host}/fn/web:latest .*sha256:[0-9a-f]{12}.*http://${reg.host}/fn/web`))
      assert.match(table, /oci\/img:2 .*oci\.tar/)
      assert.equal(await imageCommand(['remove', `${reg.host}/fn/web:latest`], dataDir, config), 0)
      out.length = 0
      assert.equal(store.gc(0).blobs, 2, 'the pulled image\'s two layers went; the archives\' layers stay')
    } finally {
      l.mock.restore()
      e.mock.restore()
    }
  })

  it('runs an HTTP function from a pulled image (Entrypoint, ExposedPorts, Env, envVars override): its 302 reaches the caller', { skip: containerSkipReason() }, async () => {
    const h = makeHarness({ registry: { insecure: [reg.host], mirrors: {} } })
    try {
      const p = await h.tier.prepare(artifact({ name: 'web', image: `${reg.host}/fn/web:latest`, envProcess: '', envVars: { REDIRECT_TO: 'https://deploy.example/next' } }))
      assert.equal(p.plan.watchdog.mode, 'http')
      assert.ok(h.logs.some((l) => /pulled .*fn\/web:latest/.test(l.text)), h.logs.map((l) => l.text).join('\n'))
      const sb = await h.tier.spawn(p, { sandboxId: 'web-1' })
      try {
        const r = await sb.invoke(request({ method: 'GET', path: '/cgi-bin/r', text: '' }), never())
        assert.equal(r.status, 302, r.body.toString())
        assert.equal(r.headers['location'], 'https://deploy.example/next')
      } finally {
        await sb.dispose('shutdown')
      }
      // the image's User (a name from its /etc/passwd) runs the server
      const pu = await h.tier.prepare(artifact({ name: 'user', image: `${reg.host}/fn/user:latest`, envProcess: '' }))
      assert.deepEqual(pu.plan.user, { uid: 1000, gid: 1000 })
      const su = await h.tier.spawn(pu, { sandboxId: 'user-1' })
      try {
        const r = await su.invoke(request({ method: 'GET', path: '/cgi-bin/id', text: '' }), never())
        assert.equal(r.body.toString().trim().split(/\s+/).join(' '), '1000 1000')
      } finally {
        await su.dispose('shutdown')
      }
    } finally {
      await h.close()
    }
  })
})
