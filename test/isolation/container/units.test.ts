// Pure parts of the container tier: image references, watchdog settings, the classic environment,
// config.json, and resolving fprocess inside a rootfs.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { callEnvironment, SHIM_SCRIPT } from '../../../isolation/container/classic.js'
import { familiarReference, normaliseReference, parseReference } from '../../../isolation/container/images/reference.js'
import { findProgram, resolveInRootfs } from '../../../isolation/container/rootfs-path.js'
import { buildSpec } from '../../../isolation/container/spec.js'
import { parseGoDuration, watchdogSettings } from '../../../isolation/container/watchdog.js'
import { isKindlingError } from '../../../runtime/errors.js'
import { request } from './helpers.js'

describe('image references', () => {
  it('normalises the docker way', () => {
    assert.equal(normaliseReference('alpine'), 'docker.io/library/alpine:latest')
    assert.equal(normaliseReference('functions/alpine'), 'docker.io/functions/alpine:latest')
    assert.equal(normaliseReference('functions/alpine:latest'), 'docker.io/functions/alpine:latest')
    assert.equal(normaliseReference('docker.io/functions/alpine:latest'), 'docker.io/functions/alpine:latest')
    assert.equal(normaliseReference('index.docker.io/library/busybox:1.36'), 'docker.io/library/busybox:1.36')
    assert.equal(normaliseReference('ghcr.io/openfaas/alpine'), 'ghcr.io/openfaas/alpine:latest')
    assert.equal(normaliseReference('localhost:5000/fn:2'), 'localhost:5000/fn:2')
    assert.equal(normaliseReference('localhost/fn'), 'localhost/fn:latest')
  })

  it('keeps digests and prints the familiar form', () => {
    const r = parseReference(`alpine@sha256:${'a'.repeat(64)}`)
    assert.equal(r.digest, `sha256:${'a'.repeat(64)}`)
    assert.equal(familiarReference(parseReference('docker.io/library/alpine:3')), 'alpine:3')
    assert.equal(familiarReference(parseReference('functions/alpine')), 'functions/alpine:latest')
    assert.equal(familiarReference(parseReference('ghcr.io/a/b:1')), 'ghcr.io/a/b:1')
  })

  it('refuses malformed references with a coded error', () => {
    for (const bad of ['', 'Alpine', 'a//b', 'a:b:c', 'a@sha256:zz', 'x/UPPER', '-x']) {
      assert.throws(() => parseReference(bad), (e: unknown) => isKindlingError(e) && e.code === 'KINDLING_ERR_INVALID_FIELD', bad)
    }
  })
})

describe('watchdog settings', () => {
  it('parses exec_timeout as seconds or a Go duration', () => {
    assert.equal(parseGoDuration('10', 'x'), 10_000)
    assert.equal(parseGoDuration('10s', 'x'), 10_000)
    assert.equal(parseGoDuration('1m30s', 'x'), 90_000)
    assert.equal(parseGoDuration('500ms', 'x'), 500)
    assert.equal(parseGoDuration('1.5s', 'x'), 1500)
    assert.throws(() => parseGoDuration('ten', 'exec_timeout'), /exec_timeout/)
    assert.throws(() => parseGoDuration('10x', 'exec_timeout'))
  })

  it('reads fprocess, mode and the optional variables', () => {
    const classic = watchdogSettings({ fprocess: 'ignored' }, 'sha512sum  -b')
    assert.equal(classic.mode, 'classic')
    assert.deepEqual(classic.argv, ['sha512sum', '-b'])
    assert.deepEqual(classic.upstream, { kind: 'unix' })
    const http = watchdogSettings({ fprocess: 'node s.js', mode: 'http', exec_timeout: '2s', max_inflight: '4', content_type: 'application/json', upstream_url: 'http://127.0.0.1:3000', ready_path: '/ready' }, undefined)
    assert.equal(http.mode, 'http')
    assert.equal(http.execTimeoutMs, 2000)
    assert.equal(http.maxInflight, 4)
    assert.equal(http.contentType, 'application/json')
    assert.deepEqual(http.upstream, { kind: 'tcp', host: '127.0.0.1', port: 3000 })
    assert.equal(http.readyPath, '/ready')
    assert.equal(watchdogSettings({ mode: 'streaming' }, 'cat').mode, 'classic')
    assert.equal(watchdogSettings({ exec_timeout: '0' }, 'cat').execTimeoutMs, undefined)
  })

  it('refuses what it cannot honour', () => {
    const code = (f: () => unknown, c: string) => assert.throws(f, (e: unknown) => isKindlingError(e) && e.code === c)
    code(() => watchdogSettings({}, undefined), 'KINDLING_ERR_MISSING_FIELD')
    code(() => watchdogSettings({ mode: 'static' }, 'cat'), 'KINDLING_ERR_INVALID_FIELD')
    code(() => watchdogSettings({ max_inflight: '-1' }, 'cat'), 'KINDLING_ERR_INVALID_FIELD')
    code(() => watchdogSettings({ mode: 'http', upstream_url: 'http://10.0.0.1:80' }, 'x'), 'KINDLING_ERR_INVALID_FIELD')
    code(() => watchdogSettings({ ready_path: 'ready' }, 'x'), 'KINDLING_ERR_INVALID_FIELD')
  })
})

describe('classic call environment', () => {
  it('has the Http_* variables of the classic watchdog', () => {
    const env = callEnvironment(
      request({ method: 'PUT', path: '/a/b', query: 'x=1&y=2', headers: { 'content-type': 'text/plain', 'x-call-id': 'abc', host: 'gw:8080', 'user-agent': 'ua' }, text: 'body!' }),
      'fn',
    )
    const has = (kv: string) => assert.ok(env.includes(kv), `${kv} missing from ${env.join(' ')}`)
    has('Http_Method=PUT')
    has('Http_Path=/a/b')
    has('Http_Query=x=1&y=2')
    has('Http_Content_Type=text/plain')
    has('Http_X_Call_Id=abc')
    has('Http_User_Agent=ua')
    has('Http_Host=gw:8080')
    has('Http_Content_Length=5')
    has('Http_ContentLength=5')
  })

  it('drops names a shell cannot hold and newlines in values', () => {
    const env = callEnvironment(request({ headers: { 'x-we!rd': 'v', 'x-ok': 'a\nb' } }), 'fn')
    assert.ok(!env.some((kv) => kv.startsWith('Http_X_We!rd')))
    assert.ok(env.includes('Http_X_Ok=a b'))
    assert.ok(SHIM_SCRIPT.includes('export "$kv"') && !SHIM_SCRIPT.includes('eval'))
  })
})

describe('config.json', () => {
  const spec = buildSpec({
    rootfs: '/images/x/rootfs',
    readonlyRoot: true,
    args: ['/bin/cat'],
    env: ['PATH=/bin'],
    cwd: '/',
    hostname: 'fn',
    cgroupsPath: '/kindling-abc/kindling-abc-1',
    memoryBytes: 64 << 20,
    cpuCores: 0.5,
    pidsLimit: 100,
    tmpfsBytes: 1 << 20,
    binds: [{ destination: '/var/openfaas/secrets', source: '/s', readonly: true }],
  })

  it('isolates: own pid, mount, ipc, uts, cgroup and network namespaces, read-only root, no terminal', () => {
    const ns = (spec.linux['namespaces'] as { type: string; path?: string }[]).map((n) => n.type).sort()
    assert.deepEqual(ns, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts'])
    assert.ok(!(spec.linux['namespaces'] as { path?: string }[]).some((n) => n.path), 'new namespaces, none joined')
    assert.equal(spec.root.readonly, true)
    assert.equal(spec.process['terminal'], false)
    assert.equal(spec.process['noNewPrivileges'], true)
  })

  it('limits memory (no swap), cpu and pids', () => {
    const r = spec.linux.resources as Record<string, Record<string, number>>
    assert.deepEqual(r['memory'], { limit: 64 << 20, swap: 64 << 20 })
    assert.deepEqual(r['cpu'], { quota: 50_000, period: 100_000 })
    assert.deepEqual(r['pids'], { limit: 100 })
  })

  it('mounts secrets read-only and a size-limited /tmp', () => {
    const m = spec.mounts as { destination: string; options?: string[] }[]
    assert.ok(m.find((x) => x.destination === '/var/openfaas/secrets')?.options?.includes('ro'))
    assert.ok(m.find((x) => x.destination === '/tmp')?.options?.includes(`size=${1 << 20}`))
  })
})

describe('fprocess inside a rootfs', () => {
  it('resolves PATH and symlinks (absolute ones stay inside the rootfs)', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-rootfs-'))
    try {
      fs.mkdirSync(path.join(root, 'bin'))
      fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true })
      fs.writeFileSync(path.join(root, 'bin/busybox'), '#!/bin/sh\n', { mode: 0o755 })
      fs.symlinkSync('/bin/busybox', path.join(root, 'usr/bin/cat')) // absolute: must not mean the host's /bin/busybox
      fs.symlinkSync('../../etc/passwd', path.join(root, 'usr/bin/escape'))
      fs.writeFileSync(path.join(root, 'bin/data'), 'x', { mode: 0o644 })
      assert.equal(resolveInRootfs(root, '/usr/bin/cat'), path.join(root, 'bin/busybox'))
      assert.equal(findProgram(root, 'cat', '/usr/local/bin:/usr/bin:/bin'), '/usr/bin/cat')
      assert.equal(findProgram(root, 'data', '/bin'), undefined, 'not executable')
      assert.equal(findProgram(root, 'nothing', '/bin:/usr/bin'), undefined)
      assert.equal(resolveInRootfs(root, '/usr/bin/escape'), undefined, 'the link target is outside and absent')
      assert.ok(resolveInRootfs(root, '/../../bin/busybox')!.startsWith(root))
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
