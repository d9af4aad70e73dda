// The start-up mechanisms, measured once per paper run and shared by R1 (no-op start and its CPU
// cost), R5 (pre-initialised vs fresh) and R7 (SAND's ladder): kindling's tiers making a new
// sandbox in-process, the raw primitives they are built on, plain host processes, and the OCI
// runtimes and engines installed here, all interleaved in shuffled rounds (bench/lib/cases.ts) so
// that background noise hits them alike and ratios within the run are fair. Then a second pass
// takes each mechanism's CPU cost (experiments/cpu.ts).
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { bareWasi } from '../../bench/lib/bare-wasm.js'
import { type Case, runInterleaved, timeRow } from '../../bench/lib/cases.js'
import { forkUs, readyScript, runCommand, workerSpawnUs } from '../../bench/lib/floors.js'
import { BENCH_FUNCTIONS, wasmPath } from '../../bench/lib/functions.js'
import { artifactFor, createInProcessTiers, createNoSpareTier, invokeRequest, NEVER } from '../../bench/lib/inproc.js'
import { type IsolationTier, type Prepared, type Sandbox, type TierName, which } from '../../isolation/index.js'
import type { ContainerKit, ImageName, OciName } from './containers.js'
import { cpuHz, cpuPerStart, perfCountsInstructions, reconcileCpu } from './cpu.js'
import { removedEnv } from '../environment.js'
import type { Measured, PaperContext, System } from './types.js'

type Speed = 'fast' | 'medium' | 'slow'

interface Mechanism {
  key: string
  label: string
  system: System
  speed: Speed
  /** one start, timed by the mechanism itself; microseconds */
  sample(): Promise<number>
  /** untimed wait inside each sample (a spare being replaced), ms */
  pauseMs?: number
}

export interface MechanismResults {
  rows: Measured[]
  /** CPU time per start, by mechanism key (`cpu:<key>`) */
  cpu: Measured[]
  method: string[]
  skipped: string[]
  notes: string[]
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r))
/** How long a spare takes to be ready again after one was taken (bench/scopes/coldstart.ts uses the same). */
const SPARE_SETTLE_MS: Partial<Record<TierName, number>> = { thread: 150, process: 400 }

function check(what: string, r: { code: number | null; stderr: string }): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(0, 300)}`)
}

export async function measureMechanisms(ctx: PaperContext, kit: ContainerKit, dir: string): Promise<MechanismResults> {
  const quick = ctx.quick
  const out: MechanismResults = { rows: [], cpu: [], method: [], skipped: [], notes: [] }
  const mechs: Mechanism[] = []
  const add = (key: string, label: string, system: System, speed: Speed, sample: () => Promise<number>, pauseMs = 0) => mechs.push({ key, label, system, speed, sample, pauseMs })
  const noop = BENCH_FUNCTIONS.find((f) => f.name === 'noop')!
  const noopBytes = fs.readFileSync(wasmPath(ctx.repoRoot, noop))

  // ---- kindling's tiers, in this process (the tier API), noop
  const inproc = await createInProcessTiers(path.join(dir, 'tiers'), { spareAppHosts: 1 })
  const closers: (() => Promise<unknown>)[] = [() => inproc.close()]
  const spawnInvoke = (tier: IsolationTier, p: Prepared, before?: () => Promise<void>) => async () => {
    if (before) await before()
    await yieldToLoop()
    const t0 = performance.now()
    const sb = await tier.spawn(p, { sandboxId: `m-${Math.random()}` })
    const r = await sb.invoke(invokeRequest(noop.body), NEVER)
    const us = (performance.now() - t0) * 1000
    await sb.dispose('replaced')
    if (r.status !== 200) throw new Error(`${tier.name}: status ${r.status}: ${r.body.toString().slice(0, 200)}`)
    return us
  }
  try {
    for (const name of ['inline', 'wasm', 'thread', 'process'] as const) {
      const tier = inproc.tiers.get(name)
      const why = tier ? tier.unavailableReason() : 'not registered'
      if (!tier || why) {
        out.skipped.push(`kindling ${name}: ${why}`)
        continue
      }
      const p = await tier.prepare(artifactFor(inproc.dataDir, { name: `mech-${name}`, tier: name, app: `mech-${name}`, wasm: noopBytes }))
      const settle = SPARE_SETTLE_MS[name]
      if (settle === undefined) {
        add(`k-${name}-new`, `kindling ${name}: new sandbox (spawn + first call)`, 'kindling', 'fast', spawnInvoke(tier, p))
        let warm: Sandbox | undefined
        closers.push(async () => warm?.dispose('shutdown'))
        add(`k-${name}-warm`, `kindling ${name}: call on an instance already restored (restore off the critical path)`, 'kindling', 'fast', async () => {
          warm ??= await tier.spawn(p, { sandboxId: `m-warm-${name}` })
          await yieldToLoop()
          const t0 = performance.now()
          const r = await warm.invoke(invokeRequest(noop.body), NEVER)
          if (r.status !== 200) throw new Error(`${name} warm: ${r.status}`)
          return (performance.now() - t0) * 1000
        })
        if (name === 'inline') {
          // Proto-Faaslet-like: the restore on the critical path. A call made before the turn of the
          // event loop that runs the deferred restore finds its sandbox dirty, and the runner
          // restores the snapshot first, inside the timed call (isolation/wasm/runner.ts run()).
          let dirty: Sandbox | undefined
          closers.push(async () => dirty?.dispose('shutdown'))
          add('k-inline-restore', 'kindling inline: restore the snapshot, then call (restore on the critical path)', 'kindling', 'fast', async () => {
            dirty ??= await tier.spawn(p, { sandboxId: 'm-restore-inline' })
            await yieldToLoop()
            const first = await dirty.invoke(invokeRequest(noop.body), NEVER)
            const t0 = performance.now()
            const r = await dirty.invoke(invokeRequest(noop.body), NEVER)
            const us = (performance.now() - t0) * 1000
            if (first.status !== 200 || r.status !== 200) throw new Error(`inline restore: ${r.status}`)
            return us
          })
        }
      } else {
        add(`k-${name}-spare`, `kindling ${name}: new sandbox from a spare ${name === 'thread' ? 'worker' : 'process'} booted ahead`, 'kindling', 'medium', spawnInvoke(tier, p, async () => { await sleep(settle) }), settle)
        const ns = await createNoSpareTier(name, path.join(dir, `nospare-${name}`))
        if (ns) {
          closers.push(() => ns.close())
          const pn = await ns.prepare(artifactFor(inproc.dataDir, { name: `mech-ns-${name}`, tier: name, app: `mech-ns-${name}`, wasm: noopBytes }))
          add(`k-${name}-new`, `kindling ${name}: new sandbox, ${name === 'thread' ? 'worker' : 'process'} started on the critical path`, 'kindling', 'medium', spawnInvoke(ns, pn))
        }
      }
    }
    const ct = kit.tier
    if (ct) {
      const p = await ct.prepare(artifactFor(inproc.dataDir, { name: 'mech-container', tier: 'container', image: kit.refs.bb, envProcess: 'true' }))
      add('k-container-oneshot', 'kindling container: one-shot container (spawn + call, crun)', 'kindling', 'medium', spawnInvoke(ct, p))
      add('k-container-ahead', 'kindling container: call on a container created ahead (crun start)', 'kindling', 'medium', async () => {
        const sb = await ct.spawn(p, { sandboxId: 'm-ahead' })
        await sleep(10)
        const t0 = performance.now()
        const r = await sb.invoke(invokeRequest(Buffer.alloc(0)), NEVER)
        const us = (performance.now() - t0) * 1000
        await sb.dispose('replaced')
        if (r.status !== 200) throw new Error(`container ahead: ${r.status}`)
        return us
      })
    } else out.skipped.push(`kindling container: ${kit.unavailable}`)

    // ---- raw primitives and plain host processes
    const call = bareWasi(new WebAssembly.Module(noopBytes), noop.body)
    add('p-wasm', 'new WebAssembly.Instance + call (noop, bare)', 'primitive', 'fast', async () => {
      await yieldToLoop()
      const t0 = performance.now()
      call()
      return (performance.now() - t0) * 1000
    })
    add('p-worker', 'new Worker until it posts ready', 'primitive', 'medium', workerSpawnUs)
    const script = readyScript(dir)
    add('p-fork', 'child_process.fork of a node script until ready', 'primitive', 'medium', () => forkUs(script))
    const trueBin = which('busybox') ? [which('busybox')!, 'true'] : ['/bin/true']
    add('h-spawn-true', 'spawn a native no-op (fork + exec, no isolation)', 'host', 'medium', async () => {
      const r = await runCommand(trueBin[0]!, trueBin.slice(1))
      check('spawn true', r)
      return r.us
    })
    add('h-spawn-node', 'spawn `node -e 0` until it exits (no isolation)', 'host', 'medium', async () => {
      const r = await runCommand(process.execPath, ['-e', '0'])
      check('node -e 0', r)
      return r.us
    })
    // SAND's fastest rung: a warmed process forks a child per call (Node cannot: forkserver.c)
    for (const warmMiB of [0, 64]) {
      const fsrv = await startForkServer(ctx.repoRoot, dir, warmMiB).catch((e: Error) => e)
      if (fsrv instanceof Error) {
        out.skipped.push(`fork server (${warmMiB} MiB warmed): ${fsrv.message}`)
        break
      }
      closers.push(async () => fsrv.stop())
      add(`h-forkserver-${warmMiB}`, `native fork server: fork a warmed process per call${warmMiB ? ` (${warmMiB} MiB heap touched)` : ''}, until it answers`, 'host', 'medium', () => fsrv.call())
    }
    for (const [k, v] of Object.entries(removedEnv)) {
      out.notes.push(`${k} was set in this machine's environment; the runner removed it before starting anything (Node reads that file at every start). The row "spawn \`node -e 0\` with ${k}" shows what it costs.`)
      add(`h-spawn-node-${k}`, `spawn \`node -e 0\` with ${k} set (this machine's default environment)`, 'host', 'medium', async () => {
        const r = await runCommand(process.execPath, ['-e', '0'], undefined, { ...process.env, [k]: v })
        check('node -e 0', r)
        return r.us
      })
    }

    // ---- OCI runtimes and engines
    const ARGS: Record<ImageName, string[]> = { bb: ['/bin/true'], node: ['/usr/bin/node', '-e', '0'] }
    const what: Record<ImageName, string> = { bb: 'native no-op', node: '`node -e 0`' }
    for (const rt of Object.keys(kit.oci) as OciName[]) {
      for (const image of ['bb', 'node'] as const) {
        const bundle = kit.bundle(rt, image, ARGS[image])
        add(`c-${rt}-run-${image}`, `${rt} run, ${what[image]} (new container)`, 'container', rt === 'runsc' ? 'slow' : 'medium', async () => {
          const r = await kit.run(rt, bundle)
          check(`${rt} run`, r)
          return r.us
        })
        if (image === 'bb' && rt !== 'runsc') {
          add(`c-${rt}-cs-${image}`, `${rt} create + start (run --detach), ${what[image]}, teardown not timed`, 'container', 'medium', async () => {
            const r = await kit.createStart(rt, bundle)
            check(`${rt} run --detach`, r)
            return r.us
          })
        }
        if (rt === 'runsc') continue
        const id = await kit.startSleeper(rt, image)
        add(`c-${rt}-exec-${image}`, `${rt} exec, ${what[image]} (process in a running container)`, 'container', 'medium', async () => {
          const r = await kit.exec(rt, id, ARGS[image])
          check(`${rt} exec`, r)
          return r.us
        })
      }
    }
    for (const e of Object.values(kit.engines)) {
      for (const image of ['bb', 'node'] as const) {
        add(`c-${e.name}-run-${image}`, `${e.name} run --rm, ${what[image]} (new container)`, 'container', 'slow', async () => {
          const r = await e.run(image, ARGS[image])
          check(`${e.name} run`, r)
          return r.us
        })
        // the benchmark's own dockerd runs with --bridge=none (it leaves the host's network alone),
        // so only podman has its default network (a bridge and a veth per container) here
        if (image === 'bb' && e.name === 'docker') out.skipped.push('docker run with default networking: the benchmark\'s dockerd is started with --bridge=none --iptables=false (bench/container/engines.ts) so as not to change the host\'s network; podman\'s default network stands in for it')
        if (image === 'bb' && e.name !== 'docker') {
          add(`c-${e.name}-run-net-${image}`, `${e.name} run --rm, ${what[image]}, default networking (bridge + veth, as Faasm's docker run)`, 'container', 'slow', async () => {
            const r = await e.runDefaultNet(image, ARGS[image])
            check(`${e.name} run (default network)`, r)
            return r.us
          })
        }
        const id = await e.startSleeper(image)
        add(`c-${e.name}-exec-${image}`, `${e.name} exec, ${what[image]} (process in a running container)`, 'container', 'slow', async () => {
          const r = await e.exec(id, ARGS[image])
          check(`${e.name} exec`, r)
          return r.us
        })
      }
    }
    out.skipped.push(...kit.missing)

    // ---- timing, interleaved
    const rounds = Number(ctx.options['rounds'] ?? (quick ? 1 : 10))
    // full run: at least 100 samples per row, engines included (10 rounds x 10)
    const BATCH: Record<Speed, number> = quick ? { fast: 50, medium: 2, slow: 1 } : { fast: 200, medium: 10, slow: 10 }
    const WARM: Record<Speed, number> = quick ? { fast: 10, medium: 1, slow: 0 } : { fast: 50, medium: 2, slow: 1 }
    const cases: Case[] = mechs.map((m) => ({ group: m.key, name: m.label, batch: BATCH[m.speed], warmup: WARM[m.speed], sample: m.sample }))
    ctx.progress.step(`start-up mechanisms: ${mechs.length} cases x ${rounds} round(s)`)
    const results = await runInterleaved(cases, rounds, ctx.progress, ctx.shouldStop, { sampleTimeoutMs: 60_000 })
    for (const r of results) {
      const m = mechs.find((x) => x.key === r.group)!
      if (r.error) {
        const done = r.blocks.length
        out.notes.push(`${m.label}: FAILED in round ${done + 1} of ${rounds}: ${r.error.split('\n')[0].replace(/^[^:]*: [^:]*: /, '')}${done ? `; its row has the ${done} round(s) before` : ''}`)
        if (!done) continue
      }
      const row = timeRow(m.key, m.label, r.samples, r.blocks)
      out.rows.push({ key: m.key, label: m.label, system: m.system, unit: row.unit, n: row.n, p50: row.p50, p99: row.p99, mean: row.mean, ci95: row.ci95, rounds: r.blocks.length })
    }
    out.method.push(
      `interleaved: every round runs a batch of every mechanism in a shuffled order (bench/lib/cases.ts); ${rounds} round(s); batch ${BATCH.fast} for µs-scale mechanisms, ${BATCH.medium} for ms-scale, ${BATCH.slow} for engines and gVisor; untimed warm-up first (${WARM.fast} / ${WARM.medium} / ${WARM.slow})`,
      'median and p99 by nearest rank; 95% CI of the median by a bootstrap that resamples whole rounds, so drift between rounds widens it',
      'timed: from the call that starts the mechanism to its end: `run`/`exec`/spawn until the process exits (stdout closed), a Worker or fork until its first message, a kindling sandbox from tier.spawn to the first call\'s response; removal and dispose are not timed (as in Faasm)',
    )

    // ---- CPU cost per start
    const perf = perfCountsInstructions()
    const targetMs = quick ? 150 : 2000
    const idleMs = quick ? 200 : 1000
    ctx.progress.step('CPU time per start')
    for (const [i, m] of mechs.entries()) {
      const row = out.rows.find((r) => r.key === m.key)
      if (!row || ctx.shouldStop() || (quick && m.speed === 'slow')) continue
      const wallUs = row.unit === 'ms' ? row.p50 * 1000 : row.p50
      const k = Math.max(m.speed === 'slow' ? 3 : 5, Math.min(20_000, Math.round((targetMs * 1000) / Math.max(wallUs + (m.pauseMs ?? 0) * 1000, 1))))
      try {
        const c = await cpuPerStart(m.sample, k, idleMs)
        const row = (key: string, v: number, note: string): Measured => ({ key, label: m.label, system: m.system, unit: v >= 10_000 ? 'ms' : 'us', n: k, p50: v >= 10_000 ? v / 1000 : v, note })
        const rec = reconcileCpu(c.treeUs, c.cpuUs)
        out.cpu.push(row(`cpu:${m.key}`, c.treeUs, `${k} back-to-back starts`), row(`cpu-machine:${m.key}`, rec.machineUs, rec.clamped ? `lower bound: the process tree's time (the machine's, idle subtracted, came out at ${Math.round(rec.rawMachineUs)} µs)` : `${(c.utilisation * 100).toFixed(0)}% of the machine's busy time over the loop`))
      } catch (e) {
        out.skipped.push(`CPU of ${m.label}: ${(e as Error).message.split('\n')[0]}`)
      }
      ctx.progress.tick(i + 1, mechs.length)
    }
    const hz = cpuHz()
    out.method.push(
      `CPU cost: ${perf ? 'perf counts instructions here, but for one method across every mechanism' : '`perf stat -e instructions true` reports the hardware counters as "not supported" in this VM, so'} CPU time from /proc over K back-to-back starts (K so that the loop lasts ~${targetMs / 1000} s), divided by K, two ways: (1) the benchmark's process tree: user + system time of this process and every process below it (kindling's app hosts and spares, crun/runc/runsc and the containers they run, the docker and podman clients), reaped children included, from /proc/<pid>/stat; immune to other work on the machine, blind to daemons (dockerd, containerd, podman's conmon); (2) the whole machine, as Faasm's \`perf stat -a\`: busy time of all CPUs from /proc/stat (user + nice + system + irq + softirq; steal excluded) minus the busy rate over ${idleMs / 1000} s of sleep just before; it includes the daemons, and any other work on the machine. Both count in 10 ms ticks, so the loop length sets the resolution (~${((10_000 / (targetMs * 1000)) * 100).toFixed(1)}% of the loop).`,
      Number.isFinite(hz) ? `cycles are estimated as CPU time x the nominal clock (${(hz / 1e9).toFixed(2)} GHz from /proc/cpuinfo); they are not counted` : 'no nominal clock in /proc/cpuinfo: no cycles estimate',
    )
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {})
  }
  return out
}

/**
 * Builds functions/forkserver/forkserver.c with the system's clang and starts it on a unix
 * socket. call() connects, sends a line and times until the forked child's answer has arrived.
 */
export async function startForkServer(repoRoot: string, dir: string, warmMiB: number): Promise<{ call(): Promise<number>; stop(): void }> {
  const cc = which('clang') ?? which('cc')
  if (!cc) throw new Error('no C compiler (clang) to build it')
  fs.mkdirSync(dir, { recursive: true })
  const bin = path.join(dir, 'forkserver')
  if (!fs.existsSync(bin)) execFileSync(cc, ['-O2', '-o', bin, path.join(repoRoot, 'functions', 'forkserver', 'forkserver.c')], { stdio: ['ignore', 'ignore', 'pipe'] })
  const sock = path.join(dir, `forkserver-${warmMiB}.sock`)
  const child = spawn(bin, [sock, String(warmMiB)], { stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('did not say ready within 10 s')), 10_000)
    child.stdout!.once('data', () => {
      clearTimeout(t)
      resolve()
    })
    child.once('exit', (c) => reject(new Error(`exited ${c} before ready`)))
  })
  const call = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now()
      const c = net.connect(sock)
      let got = ''
      c.on('connect', () => c.write('call\n'))
      c.on('data', (d) => {
        got += d.toString()
        if (got.includes('\n')) {
          const us = (performance.now() - t0) * 1000
          c.destroy()
          if (!got.startsWith('ok ')) reject(new Error(`fork server answered ${got.slice(0, 80)}`))
          else resolve(us)
        }
      })
      c.on('error', reject)
    })
  return { call, stop: () => void child.kill('SIGKILL') }
}
