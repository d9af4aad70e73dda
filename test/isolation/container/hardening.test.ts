// What a function inside a container cannot do: the seccomp profile refuses new namespaces, keyrings,
// bpf, ptrace, mounts and the rest (issue 18 item 12); no capabilities at all; the writable layer
// of readOnlyRootFilesystem=false is capped and lives in memory, not in the data dir (item 13); the
// container's mountinfo names no host path of the data dir (item 17).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildBusyboxImage, buildNodeImage } from '../../../isolation/container/images/index.js'
import { which } from '../../../isolation/container/runtime.js'
import type { InvokeRequest, InvokeResult } from '../../../isolation/tier.js'
import { artifact, containerSkipReason, type Harness, makeHarness, never, request, type ArtifactOverrides } from './helpers.js'

const skip = containerSkipReason() ?? false
const cc = which('gcc') ?? which('cc')

/** Bytes of the files under `dir` on dir's own file system (what a write there costs the disk). */
function diskBytes(dir: string): number {
  const dev = fs.statSync(dir).dev
  let n = 0
  const walk = (d: string): void => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = path.join(d, e.name)
      try {
        const st = fs.lstatSync(p)
        if (st.dev !== dev) continue // another file system mounted here
        if (e.isDirectory()) walk(p)
        else if (e.isFile()) n += st.size
      } catch {
        // removed meanwhile
      }
    }
  }
  walk(dir)
  return n
}

describe('container hardening', { skip, timeout: 180_000 }, () => {
  let h: Harness
  before(() => {
    h = makeHarness({ writableLayerMiB: 16, tmpSizeMiB: 8 })
    if (cc) {
      const bin = path.join(h.dataDir, 'syscall-probe')
      execFileSync(cc, ['-static', '-O1', '-o', bin, path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/syscall-probe.c')])
      buildBusyboxImage(h.tier.images, { ref: 'test/probe:1', add: [[bin, '/usr/bin/syscall-probe']] })
    }
  })
  after(async () => {
    await h.close()
  })

  async function call(a: ArtifactOverrides, r: Partial<InvokeRequest> & { text?: string } = {}): Promise<InvokeResult> {
    const sb = await h.tier.spawn(await h.tier.prepare(artifact(a)), { sandboxId: `sb-${crypto.randomBytes(3).toString('hex')}` })
    try {
      return await sb.invoke(request(r), never())
    } finally {
      await sb.dispose('replaced')
    }
  }

  const sh = async (script: string, a: ArtifactOverrides = {}) => (await call({ envProcess: 'sh', ...a }, { text: script })).body.toString()

  it('runs under a seccomp filter with no capabilities and no new privileges', async () => {
    const status = await sh('cat /proc/self/status')
    assert.match(status, /^Seccomp:\s+2$/m, status)
    assert.match(status, /^NoNewPrivs:\s+1$/m)
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.match(status, new RegExp(`^${set}:\\s+0+$`, 'm'), `${set} empty`)
    assert.match(await sh('cat /proc/self/limits'), /^Max core file size\s+0\s+0\s/m, 'no core dumps')
  })

  it('cannot make user, network or mount namespaces, nor mount', async () => {
    const out = await sh('for f in -U -n -m -p -i -u; do unshare $f true 2>/dev/null && echo "unshare $f worked"; done; mount -t tmpfs none /tmp 2>/dev/null && echo mounted; echo done')
    assert.equal(out, 'done\n')
  })

  it('refuses the dangerous system calls with EPERM (clone3 with ENOSYS), allows the harmless ones', { skip: cc ? false : 'no C compiler to build the probe' }, async () => {
    const out = await call({ image: 'test/probe:1', envProcess: 'syscall-probe' })
    assert.equal(out.status, 200, out.body.toString())
    const got = Object.fromEntries(out.body.toString().trim().split('\n').map((l) => l.split(' ') as [string, string]))
    const want: Record<string, string> = {
      clone_plain: 'ok', clone_newuser: 'EPERM', clone_newnet: 'EPERM', clone_newns: 'EPERM', clone_newpid: 'EPERM',
      clone3: 'ENOSYS', unshare_user: 'EPERM', setns: 'EPERM', keyctl: 'EPERM', add_key: 'EPERM', bpf: 'EPERM',
      ptrace: 'EPERM', process_vm_readv: 'EPERM', perf_event_open: 'EPERM', userfaultfd: 'EPERM', io_uring_setup: 'EPERM',
      fsopen: 'EPERM', mount: 'EPERM', personality_query: 'ok', personality_linux: 'ok', personality_noaslr: 'EPERM', getpid: 'ok',
    }
    assert.deepEqual(got, want)
  })

  it('caps the writable layer (ENOSPC past writableLayerMiB) and keeps it out of the data dir', async () => {
    const full = await sh('dd if=/dev/zero of=/big bs=1M count=32 2>&1; echo rc=$?', { readOnlyRootFilesystem: false })
    assert.match(full, /No space left on device/, full)
    assert.doesNotMatch(full, /rc=0/)
    const tmp = await sh('dd if=/dev/zero of=/tmp/big bs=1M count=16 2>&1; echo rc=$?', { readOnlyRootFilesystem: false })
    assert.match(tmp, /No space left on device/, '/tmp is capped too')
    // while a container holds 12 MiB in its writable layer, the data dir's disk does not grow by it
    const base = diskBytes(h.dataDir)
    let most = base
    const running = sh('dd if=/dev/zero of=/data bs=1M count=12 2>/dev/null && sleep 2 && echo kept', { readOnlyRootFilesystem: false })
    let settled = false
    void running.finally(() => (settled = true))
    while (!settled) {
      most = Math.max(most, diskBytes(h.dataDir))
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(await running, 'kept\n')
    assert.ok(most - base < 4 * 1024 * 1024, `the data dir grew by ${most - base} bytes`)
  })

  it('caps what an HTTP-mode server writes into its socket folder (/run/kindling) too', async () => {
    buildNodeImage(h.tier.images, { ref: 'test/fill:1', add: [[path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/fill-server'), '/home/app']], link: true })
    const sb = await h.tier.spawn(await h.tier.prepare(artifact({ name: 'fill', image: 'test/fill:1', envProcess: 'node /home/app/server.mjs', envVars: { mode: 'http' }, stateMode: 'reuse', memoryBytes: 128 << 20 })), { sandboxId: 'fill' })
    try {
      const fill = async (query: string) => (await sb.invoke(request({ query }), never())).body.toString()
      assert.equal(await fill('path=/run/kindling/small&mb=1'), 'ok')
      assert.equal(await fill('path=/run/kindling/big&mb=32'), 'ENOSPC')
      assert.equal(await fill('path=/tmp/big&mb=16'), 'ENOSPC')
      assert.equal(await fill('path=/big&mb=1'), 'EROFS')
    } finally {
      await sb.dispose('replaced')
    }
  })

  it('shows no host path in the container mountinfo', async () => {
    h.secrets.set('openfaas-fn/token', Buffer.from('t'))
    for (const readOnlyRootFilesystem of [true, false]) {
      const info = await sh('cat /proc/self/mountinfo', { readOnlyRootFilesystem, secrets: ['token'] })
      assert.ok(info.includes('/run/kindling') && info.includes('/var/openfaas/secrets'), info)
      assert.ok(!info.includes(h.dataDir), `no data dir path in\n${info}`)
      // every mount's root inside its file system, and the overlay's layers, say nothing of the host
      for (const line of info.trim().split('\n')) {
        const root = line.split(' ')[3]!
        assert.ok(!root.startsWith('/tmp') && !root.includes('/sandboxes/') && !root.includes('/images/'), line)
      }
      assert.match(info, / \/ r[ow],\S* - overlay overlay \S*lowerdir=lower,upperdir=upper,workdir=work/)
      assert.ok(!info.includes('kindling-'), `no container id or data dir marker in\n${info}`)
    }
    // a cgroup namespace of its own: its cgroups are roots, the host's cgroup tree stays unnamed
    const cg = await sh('cat /proc/self/cgroup')
    for (const line of cg.trim().split('\n')) assert.match(line, /:\/$/, cg)
  })

  it('still runs ordinary functions: cat, sha512sum, env', async () => {
    assert.equal((await call({ envProcess: 'cat' }, { text: 'plain' })).body.toString(), 'plain')
    const input = crypto.randomBytes(50_000)
    const sha = await call({ envProcess: 'sha512sum' }, { body: input })
    assert.equal(sha.body.toString(), `${crypto.createHash('sha512').update(input).digest('hex')}  -\n`)
    assert.match((await call({ envProcess: 'env', envVars: { a: 'b' } })).body.toString(), /^a=b$/m)
  })
})
