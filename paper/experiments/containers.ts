// The container baselines every experiment shares: two images in kindling's image store (busybox
// with the pipeline's stages compiled natively, and node), OCI bundles made from the bundle
// template kindling's container tier prepares (same rootfs, namespaces and limits), and the
// engines that are installed (podman; Docker with a dockerd the benchmark starts and stops).
// Made once per paper run; everything it starts is stopped by close().
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { type Engine, runscAvailable, startDocker, startPodman } from '../../bench/container/engines.js'
import { type CommandRun, runCommand } from '../../bench/lib/floors.js'
import { artifactFor, createInProcessTiers, type InProcessTiers } from '../../bench/lib/inproc.js'
import { buildBusyboxImage, buildNodeImage, type ContainerPrepared, type ContainerTier, which } from '../../isolation/index.js'

export type ImageName = 'bb' | 'node'
export type OciName = 'crun' | 'runc' | 'runsc'
export const PIPELINE_STAGES = ['extract', 'transform', 'handler', 'thumbnail'] as const

/** podman or docker, with exec into a running container besides the engine's own run. */
export interface EngineKit {
  name: 'podman' | 'docker'
  run(image: ImageName, args: string[], input?: Buffer): Promise<CommandRun>
  /** `run --rm` with the engine's default networking (a bridge and a veth pair, as Faasm's `docker run` had) */
  runDefaultNet(image: ImageName, args: string[]): Promise<CommandRun>
  /** starts a long-running container of the image and returns its id */
  startSleeper(image: ImageName): Promise<string>
  exec(id: string, args: string[]): Promise<CommandRun>
}

export interface ContainerKit {
  /** why there are no container baselines here, when there are none */
  unavailable?: string
  inproc?: InProcessTiers
  tier?: ContainerTier
  /** image references in kindling's store */
  refs: Record<ImageName, string>
  /** the pipeline's stages are in the bb image at /pipeline/<stage> (compiled natively), or why not */
  pipeline: true | string
  /** where the native stages are (to build the same image in another data dir) */
  pipelineBin: string
  /** OCI runtimes installed and working here */
  oci: Partial<Record<OciName, string>>
  engines: Partial<Record<'podman' | 'docker', EngineKit>>
  /** why an OCI runtime or engine is missing */
  missing: string[]
  /** a bundle running `args` in `image` (no fixed cgroup path, so several can run at once) */
  bundle(runtime: OciName, image: ImageName, args: string[]): string
  /** `<runtime> run` of a bundle until it exits; the container is gone afterwards */
  run(runtime: OciName, bundle: string, input?: Buffer): Promise<CommandRun>
  /** create + start only (`run --detach`): timed until the runtime returns, the container's exit and delete untimed */
  createStart(runtime: OciName, bundle: string): Promise<CommandRun>
  startSleeper(runtime: OciName, image: ImageName): Promise<string>
  /** kills and deletes a container startSleeper made */
  stopSleeper(runtime: OciName, id: string): Promise<void>
  /** the host pid of a running container's first process */
  pidOf(runtime: OciName, id: string): Promise<number | undefined>
  exec(runtime: OciName, id: string, args: string[]): Promise<CommandRun>
  close(): Promise<void>
}

let seq = 0
const newId = (p: string) => `kpaper-${process.pid}-${p}-${seq++}`

/** Static native builds of the pipeline's stages from functions/pipeline (for containers). */
function buildNativeStages(repoRoot: string, outDir: string): true | string {
  if (!which('clang') && !which('cc')) return 'no C compiler (clang) to build the stages natively'
  fs.mkdirSync(outDir, { recursive: true })
  try {
    for (const s of PIPELINE_STAGES) {
      execFileSync(which('clang') ? 'clang' : 'cc', ['-O2', '-static', '-o', path.join(outDir, s), path.join('pipeline', `${s}.c`)], { cwd: path.join(repoRoot, 'functions'), stdio: ['ignore', 'ignore', 'pipe'] })
    }
    return true
  } catch (e) {
    return `building the stages natively (clang -static) failed: ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}`
  }
}

export async function openContainerKit(repoRoot: string, dir: string, opts: { engines: boolean; log(m: string): void }): Promise<ContainerKit> {
  const kit: ContainerKit = {
    refs: { bb: 'paper/busybox:1', node: 'paper/node:1' },
    pipeline: 'not built',
    pipelineBin: path.join(dir, 'pipeline-bin'),
    oci: {},
    engines: {},
    missing: [],
    bundle: () => {
      throw new Error('no container runtime')
    },
    createStart: async () => {
      throw new Error('no container runtime')
    },
    run: async () => {
      throw new Error('no container runtime')
    },
    startSleeper: async () => {
      throw new Error('no container runtime')
    },
    stopSleeper: async () => {},
    pidOf: async () => undefined,
    exec: async () => {
      throw new Error('no container runtime')
    },
    close: async () => {},
  }
  if (process.getuid?.() !== 0) return { ...kit, unavailable: 'containers need root here' }
  const inproc = await createInProcessTiers(path.join(dir, 'kit'), { spareAppHosts: 0 })
  const tier = inproc.tiers.get('container') as ContainerTier | undefined
  const why = tier ? tier.unavailableReason() : 'the container tier is not registered'
  if (!tier || why) {
    await inproc.close()
    return { ...kit, unavailable: `container tier: ${why}` }
  }
  kit.inproc = inproc
  kit.tier = tier
  const bin = kit.pipelineBin
  kit.pipeline = buildNativeStages(repoRoot, bin)
  buildBusyboxImage(tier.images, { ref: kit.refs.bb, add: kit.pipeline === true ? [[bin, '/pipeline']] : [] })
  buildNodeImage(tier.images, { ref: kit.refs.node, link: true })
  const templates: Partial<Record<ImageName, { config: Record<string, unknown>; rootfs: string }>> = {}
  for (const image of ['bb', 'node'] as const) {
    const p = (await tier.prepare(artifactFor(inproc.dataDir, { name: `paper-${image}`, tier: 'container', image: kit.refs[image], envProcess: image === 'bb' ? 'true' : 'node -e 0' }))) as ContainerPrepared
    templates[image] = { config: JSON.parse(fs.readFileSync(path.join(p.plan.templateDir, 'config.json'), 'utf8')) as Record<string, unknown>, rootfs: p.plan.image.rootfs }
  }
  let bundles = 0
  kit.bundle = (runtime, image, args) => {
    const spec = structuredClone(templates[image]!.config) as { process: { args: string[] }; linux: { cgroupsPath?: string; resources: Record<string, unknown> } }
    spec.process.args = args
    delete spec.linux.cgroupsPath
    // with gVisor's ptrace platform every guest task is a host task: a pids limit kills the sandbox
    if (runtime === 'runsc') delete spec.linux.resources['pids']
    const b = path.join(dir, 'bundles', `${runtime}-${image}-${bundles++}`)
    fs.mkdirSync(b, { recursive: true })
    fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec))
    return b
  }
  const cli = (runtime: OciName) => [kit.oci[runtime]!, ...(runtime === 'runsc' ? ['--network=none'] : [])]
  kit.run = async (runtime, bundle, input) => {
    const [b, ...flags] = cli(runtime)
    return runCommand(b!, [...flags, 'run', '--bundle', bundle, newId(runtime)], input)
  }
  kit.createStart = async (runtime, bundle) => {
    const [b, ...flags] = cli(runtime)
    const id = newId(`${runtime}-cs`)
    // a detached container keeps the stdio it was given: give it none (a pipe would hold the
    // wait until the container's process closed it), and time the runtime's own exit
    const t0 = performance.now()
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(b!, [...flags, 'run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' })
      p.on('error', () => resolve(-1))
      p.on('exit', (c) => resolve(c))
    })
    const r: CommandRun = { us: (performance.now() - t0) * 1000, code, stdout: Buffer.alloc(0), stderr: code === 0 ? '' : `${runtime} run --detach exited ${code}` }
    // teardown, untimed: the no-op has exited or will; delete -f kills it if not
    await runCommand(b!, [...flags, 'delete', '-f', id]).catch(() => {})
    return r
  }
  const sleepers: [OciName, string][] = []
  kit.startSleeper = async (runtime, image) => {
    const id = newId(`${runtime}-sleep`)
    const [b, ...flags] = cli(runtime)
    // a detached container keeps the stdio it was given: give it none, and wait for the exit of the runtime only
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(b!, [...flags, 'run', '--detach', '--bundle', kit.bundle(runtime, image, ['/bin/sleep', '100000']), id], { stdio: 'ignore' })
      p.on('error', () => resolve(-1))
      p.on('exit', (c) => resolve(c))
    })
    if (code !== 0) throw new Error(`${runtime} run --detach exited ${code}`)
    sleepers.push([runtime, id])
    return id
  }
  kit.stopSleeper = async (runtime, id) => {
    await runCommand(kit.oci[runtime]!, ['kill', id, 'KILL']).catch(() => {})
    await runCommand(kit.oci[runtime]!, ['delete', '-f', id]).catch(() => {})
    const i = sleepers.findIndex(([, s]) => s === id)
    if (i >= 0) sleepers.splice(i, 1)
  }
  kit.pidOf = async (runtime, id) => {
    const r = await runCommand(kit.oci[runtime]!, ['state', id])
    try {
      return (JSON.parse(r.stdout.toString()) as { pid?: number }).pid
    } catch {
      return undefined
    }
  }
  kit.exec = async (runtime, id, args) => {
    const [b, ...flags] = cli(runtime)
    return runCommand(b!, [...flags, 'exec', id, ...args])
  }
  // which OCI runtimes work: a no-op container each
  for (const rt of ['crun', 'runc', 'runsc'] as const) {
    const b = which(rt)
    if (!b) {
      kit.missing.push(`${rt}: not installed (apt-get install ${rt})`)
      continue
    }
    if (rt === 'runsc' && runscAvailable()) continue
    kit.oci[rt] = b
    const r = await kit.run(rt, kit.bundle(rt, 'bb', ['/bin/true'])).catch((e: Error) => ({ code: -1, stderr: e.message }) as CommandRun)
    if (r.code !== 0) {
      delete kit.oci[rt]
      kit.missing.push(`${rt}: a no-op container failed: ${r.stderr.split('\n')[0]}`)
    }
  }
  const engines: Engine[] = []
  const podmanImages: string[] = []
  if (opts.engines) {
    const tars = { bb: path.join(dir, 'bb.tar'), node: path.join(dir, 'node.tar') }
    if (which('podman') || which('dockerd')) {
      execFileSync('tar', ['-C', templates.bb!.rootfs, '-cf', tars.bb, '.'])
      execFileSync('tar', ['-C', templates.node!.rootfs, '-cf', tars.node, '.'])
    }
    for (const name of ['podman', 'docker'] as const) {
      opts.log(`starting ${name}`)
      const e = await (name === 'podman' ? startPodman(tars) : startDocker(tars, dir)).catch((err: Error) => err.message)
      if (typeof e === 'string') {
        kit.missing.push(`${name}: ${e}`)
        continue
      }
      engines.push(e)
      kit.engines[name] = engineKit(name, e, dir)
      // podman's rmi by tag can leave the imported images behind untagged: remove them by id too
      if (name === 'podman') {
        for (const i of ['bb', 'node']) {
          const r = await runCommand(which('podman')!, ['image', 'inspect', '--format', '{{.Id}}', `localhost/kindling-bench-${i}:1`])
          if (r.code === 0) podmanImages.push(r.stdout.toString().trim())
        }
      }
    }
  } else kit.missing.push('podman, docker, runsc: not run in --quick')
  kit.close = async () => {
    for (const [rt, id] of sleepers) {
      await runCommand(kit.oci[rt]!, ['kill', id, 'KILL']).catch(() => {})
      await runCommand(kit.oci[rt]!, ['delete', '-f', id]).catch(() => {})
    }
    for (const e of Object.values(kit.engines)) await (e as EngineKit & { cleanup(): Promise<void> }).cleanup().catch(() => {})
    for (const e of engines) await e.close().catch(() => {})
    if (podmanImages.length) await runCommand(which('podman')!, ['rmi', '-f', ...podmanImages]).catch(() => {})
    await inproc.close()
  }
  return kit
}

function engineKit(name: 'podman' | 'docker', _engine: Engine, dir: string): EngineKit & { cleanup(): Promise<void> } {
  // the same CLI and daemon socket bench/container/engines.ts set up
  const bin = name === 'podman' ? which('podman')! : fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : which('docker')!
  const env = name === 'docker' ? { ...process.env, DOCKER_HOST: `unix://${path.join(dir, 'docker', 'docker.sock')}` } : process.env
  const image = (i: ImageName) => `${name === 'podman' ? 'localhost/' : ''}kindling-bench-${i}:1`
  const extra = name === 'podman' ? ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'] : []
  const started: string[] = []
  return {
    name,
    // the arguments bench/container/engines.ts runs with, but binary-safe stdin (the pipeline passes images)
    run: (i, args, input) => runCommand(bin, ['run', '--rm', '-i', '--network', 'none', ...extra, image(i), ...args], input, env),
    runDefaultNet: (i, args) => runCommand(bin, ['run', '--rm', ...extra, image(i), ...args], undefined, env),
    async startSleeper(i) {
      const r = await runCommand(bin, ['run', '-d', '--network', 'none', ...extra, image(i), '/bin/sleep', '100000'], undefined, env)
      if (r.code !== 0) throw new Error(`${name} run -d failed: ${r.stderr.slice(0, 300)}`)
      const id = r.stdout.toString().trim()
      started.push(id)
      return id
    },
    exec: (id, args) => runCommand(bin, ['exec', id, ...args], undefined, env),
    async cleanup() {
      for (const id of started) await runCommand(bin, ['rm', '-f', id], undefined, env)
    },
  }
}
