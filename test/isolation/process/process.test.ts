// The process tier on real processes: one process per sandbox, spares taken ahead of need, the heap
// limit and the memory cgroup (when this machine allows them), the kill backstop of a runaway
// call, the replacement of a dead process and the cgroup OOM killer reported as a memory limit.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { MemoryCgroups } from '../../../isolation/process/cgroup.js'
import { ProcessTier, type ProcessTierOptions } from '../../../isolation/process/tier.js'
import type { FunctionArtifact, FunctionLogEntry, Sandbox, TierContext } from '../../../isolation/tier.js'
import { loadConfig } from '../../../runtime/config.js'
import { isKindlingError } from '../../../runtime/errors.js'
import { tierSettings } from '../../../runtime/tiers.js'
import { exampleModule } from '../../helpers/kindling.js'
import { UNSTOPPABLE_LOOP, wasiCommand, wat } from '../../helpers/wat.js'
import { request } from '../wasm/runner-helpers.js'

const never = new AbortController().signal
const MiB = 1024 * 1024

interface Harness {
  tier: ProcessTier
  dir: string
  logs: FunctionLogEntry[]
  artifact(source: string | Uint8Array, extra?: Partial<FunctionArtifact>): FunctionArtifact
  close(): Promise<void>
}

function harness(opts: ProcessTierOptions = {}, settings: Partial<TierContext['settings']> = {}): Harness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-proc-'))
  const logs: FunctionLogEntry[] = []
  const stateDir = path.join(dir, 'tiers', 'process')
  fs.mkdirSync(stateDir, { recursive: true })
  const ctx: TierContext = {
    stateDir,
    dataDir: dir,
    settings: { ...tierSettings(loadConfig({})), execTimeoutMs: 10_000, timeoutGraceMs: 150, memoryMiB: 128, maxBodyBytes: 1 << 20, interruptFuel: 4096, appHostHeapMiB: 256, spareAppHosts: 0, ...settings },
    readSecret: () => undefined,
    log: (e) => logs.push(e),
  }
  const tier = new ProcessTier(ctx, opts)
  let n = 0
  return {
    tier,
    dir,
    logs,
    artifact(source, extra = {}) {
      const bytes = typeof source === 'string' ? fs.readFileSync(exampleModule(source)) : Buffer.from(source)
      const digest = createHash('sha256').update(bytes).digest('hex')
      const modulePath = path.join(dir, `${digest}.wasm`)
      fs.writeFileSync(modulePath, bytes)
      const name = `fn${++n}`
      return {
        key: `${name}.openfaas-fn`, name, namespace: 'openfaas-fn', version: '1', app: name, kind: 'wasm-module', image: `wasm:sha256:${digest}`,
        envVars: {}, labels: {}, annotations: {}, secrets: [], memoryBytes: 64 * MiB, cpuCores: 0, timeoutMs: 10_000, stateMode: 'fresh',
        wasm: { modulePath, digest, resetMode: 'snapshot', prewarm: true }, ...extra,
      }
    },
    async close() {
      await tier.close()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

const pidOf = (h: Harness, sb: Sandbox) => h.tier.pidOf(sb.id)!

async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  return check()
}

describe('process tier', () => {
  const h = harness()
  after(() => h.close())

  it('runs each sandbox in a process of its own with a heap limit and, where possible, a memory cgroup', async (t) => {
    const p = await h.tier.prepare(h.artifact('cat'))
    const a = await h.tier.spawn(p, { sandboxId: 'a' })
    const b = await h.tier.spawn(p, { sandboxId: 'b' })
    const r = await a.invoke(request('in a process'), never)
    assert.equal(r.body.toString(), 'in a process')
    const [pa, pb] = [pidOf(h, a), pidOf(h, b)]
    assert.ok(pa && pb && pa !== pb && pa !== process.pid)
    const cmdline = fs.readFileSync(`/proc/${pa}/cmdline`, 'utf8').split('\0')
    assert.ok(cmdline.includes('--max-old-space-size=64'), cmdline.join(' '))
    if (h.tier.cgroups.reason) {
      t.diagnostic(`no cgroup check: ${h.tier.cgroups.reason}`)
    } else {
      const line = fs.readFileSync(`/proc/${pa}/cgroup`, 'utf8').split('\n').find((l) => /(^|:)memory:|^0::/.test(l))!
      const dir = path.join(h.tier.cgroups.parent!, path.basename(line.split(':')[2]!))
      assert.match(path.basename(dir), new RegExp(`^kindling-proc-${process.pid}-\\d+$`))
      const limit = Number(fs.readFileSync(path.join(dir, h.tier.cgroups.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'), 'utf8'))
      assert.equal(limit, (64 + 64 + 96) * MiB)
      await a.dispose('replaced')
      assert.ok(await until(() => !fs.existsSync(dir)), 'the cgroup is removed with its process')
    }
    await a.dispose('replaced')
    await b.dispose('replaced')
    await h.tier.release(p)
  })

  it('starts new sandboxes from booted spares, off a Node start', async () => {
    const p = await h.tier.prepare(h.artifact('cat', { memoryBytes: 48 * MiB }))
    const first = await h.tier.spawn(p, { sandboxId: 'first' })
    // the spare started when the first took its process boots and warms up in the background
    assert.ok(await until(() => h.tier.spares.size >= 1))
    await h.tier.spares.ready()
    const started = h.tier.spares.started
    const second = await h.tier.spawn(p, { sandboxId: 'second' })
    assert.equal((await second.invoke(request('from a spare'), never)).body.toString(), 'from a spare')
    assert.ok(second.startup.spawnUs < first.startup.spawnUs / 3 || second.startup.spawnUs < 50_000, `spawn from a spare ${second.startup.spawnUs} us, cold ${first.startup.spawnUs} us`)
    await new Promise((r) => setImmediate(r))
    assert.equal(h.tier.spares.started, started + 1, 'a new spare replaces the one taken')
    await first.dispose('replaced')
    await second.dispose('replaced')
    await h.tier.release(p)
  })

  it('replaces a process that died while idle; the next call runs in a new one', async () => {
    const p = await h.tier.prepare(h.artifact('cat'))
    const sb = await h.tier.spawn(p, { sandboxId: 'victim' })
    const pid = pidOf(h, sb)
    process.kill(pid, 'SIGKILL')
    assert.ok(await until(() => !h.tier.pidsOf(p.artifact.key).includes(pid)))
    assert.equal(sb.alive, true, 'the sandbox stays usable')
    assert.equal((await sb.invoke(request('again'), never)).body.toString(), 'again')
    assert.notEqual(pidOf(h, sb), pid)
    assert.ok(h.logs.some((l) => l.instance === 'victim' && /killed by SIGKILL; replacing it/.test(l.text)))
    await sb.dispose('replaced')
    await h.tier.release(p)
  })
})

describe('process tier: the kill backstop', () => {
  // fuel so large that the compiled-in check does not fire before the deadline
  const h = harness({}, { interruptFuel: 2 ** 31 - 1 })
  after(() => h.close())

  it('kills a process that does not stop a call by deadline + grace, and serves the next call from a new one', async () => {
    const p = await h.tier.prepare(h.artifact(await wat(UNSTOPPABLE_LOOP)))
    const sb = await h.tier.spawn(p, { sandboxId: 'spin' })
    const pid = pidOf(h, sb)
    const t0 = Date.now()
    await assert.rejects(sb.invoke(request('', { deadline: Date.now() + 200 }), never), (e) => isKindlingError(e) && e.code === 'KINDLING_ERR_TIMEOUT')
    const took = Date.now() - t0
    assert.ok(took >= 340 && took < 2000, `answered after ${took} ms`)
    assert.ok(await until(() => h.tier.pidsOf(p.artifact.key).length === 1 && !h.tier.pidsOf(p.artifact.key).includes(pid)))
    await assert.rejects(sb.invoke(request('', { deadline: Date.now() + 100 }), never), (e) => isKindlingError(e) && e.code === 'KINDLING_ERR_TIMEOUT')
    await sb.dispose('replaced')
  })
})

const cgroupSkip = new MemoryCgroups().reason ?? false

describe('process tier: the memory cgroup', { skip: cgroupSkip }, () => {
  // a cgroup far below what the function may use, so that the kernel's OOM killer fires first
  const h = harness({ cgroupBytes: () => 160 * MiB })
  after(() => h.close())

  it('reports a process killed by its cgroup as a memory limit, and replaces it', async () => {
    const grow = await wat(wasiCommand(`(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
      (memory.fill (i32.const 0) (i32.const 1) (i32.mul (memory.size) (i32.const 65536)))`))
    const p = await h.tier.prepare(h.artifact(grow, { memoryBytes: 512 * MiB }))
    const sb = await h.tier.spawn(p, { sandboxId: 'hog' })
    // the kernel reclaims (and thrashes the process's file pages) before it kills: allow for it
    await assert.rejects(sb.invoke(request('', { deadline: Date.now() + 20_000 }), never), (e) => isKindlingError(e) && e.code === 'KINDLING_ERR_MEMORY_LIMIT' && /memory cgroup limit/.test(e.message))
    assert.ok(await until(() => h.tier.pidsOf(p.artifact.key).length === 1))
    await sb.dispose('replaced')
  })
})

describe('process tier: finding the memory cgroup', () => {
  it('nests sandbox cgroups inside the gateway\'s own (v1), and reads OOM kills', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-cg-'))
    try {
      fs.mkdirSync(path.join(root, 'proc', 'self'), { recursive: true })
      fs.writeFileSync(path.join(root, 'proc', 'self', 'cgroup'), '4:memory:/outer/me\n0::/\n')
      const mem = path.join(root, 'sys', 'memory')
      fs.mkdirSync(path.join(mem, 'outer', 'me'), { recursive: true })
      fs.writeFileSync(path.join(mem, 'memory.limit_in_bytes'), '9223372036854771712')
      // a stale cgroup of a gateway that is gone is swept at start
      fs.mkdirSync(path.join(mem, 'outer', 'me', 'kindling-proc-999999999-1'))
      const cg = new MemoryCgroups(path.join(root, 'proc'), path.join(root, 'sys'))
      assert.equal(cg.reason, null)
      assert.equal(cg.parent, path.join(mem, 'outer', 'me'))
      assert.ok(!fs.existsSync(path.join(mem, 'outer', 'me', 'kindling-proc-999999999-1')))
      const one = cg.create(process.pid, 10 * MiB)!
      assert.equal(fs.readFileSync(path.join(one.dir, 'memory.limit_in_bytes'), 'utf8'), String(10 * MiB))
      assert.equal(fs.readFileSync(path.join(one.dir, 'cgroup.procs'), 'utf8'), String(process.pid))
      assert.equal(one.oomKilled(), false)
      fs.writeFileSync(path.join(one.dir, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n')
      assert.equal(one.oomKilled(), true)
      const v2 = new MemoryCgroups(path.join(root, 'proc'), path.join(root, 'nothing'))
      assert.match(v2.reason ?? '', /memory controller/)
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
