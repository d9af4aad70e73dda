// Comparison runtimes for the benchmark only: runsc (gVisor), podman and Docker. Each is used only
// when installed; otherwise the benchmark prints why it is skipped. dockerd is started by the
// benchmark itself (own data root, no bridge, no iptables) and stopped by its PID afterwards.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { allHierarchies, removeCgroupTree, runCommand, which } from '../../isolation/index.js'

/** Removes the engine's parent cgroup afterwards, unless it was there before the benchmark. */
function cgroupJanitor(name: string): () => Promise<void> {
  const existed = allHierarchies().some((h) => fs.existsSync(path.join(h, name)))
  return async () => {
    if (!existed) await removeCgroupTree(`/${name}`)
  }
}

export interface Engine {
  name: string
  /** runs one container with `cmd`, body on stdin; resolves with stdout */
  run(image: 'bb' | 'node', cmd: string[], input: string): Promise<{ ms: number; out: string; err: string; code: number | null }>
  close(): Promise<void>
}

/** podman or docker: import the two rootfs tars as images first. */
async function importImages(cli: string[], tars: { bb: string; node: string }, env: NodeJS.ProcessEnv): Promise<void> {
  for (const [k, tar] of Object.entries(tars)) {
    const r = await runWithEnv(cli[0]!, [...cli.slice(1), 'import', tar, `kindling-bench-${k}:1`], env)
    if (r.code !== 0) throw new Error(`${cli.join(' ')} import failed: ${r.err}`)
  }
}

function runWithEnv(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<{ ms: number; out: string; err: string; code: number | null }> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env })
    let out = ''
    let err = ''
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    p.on('error', (e) => (err += e.message))
    if (input !== undefined) {
      p.stdin!.on('error', () => {})
      p.stdin!.end(input)
    }
    p.on('close', (code) => resolve({ ms: performance.now() - t0, out, err, code }))
  })
}

export async function startPodman(tars: { bb: string; node: string }): Promise<Engine | string> {
  const bin = which('podman')
  if (!bin) return 'podman is not installed (apt-get install podman)'
  const env = { ...process.env }
  const janitor = cgroupJanitor('libpod_parent')
  await importImages([bin], tars, env)
  const ulimits = ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'] // root lacks CAP_SYS_RESOURCE here
  return {
    name: 'podman',
    run: (image, cmd, input) => runWithEnv(bin, ['run', '--rm', '-i', '--network', 'none', ...ulimits, `localhost/kindling-bench-${image}:1`, ...cmd], env, input),
    close: async () => {
      for (const k of ['bb', 'node']) await runWithEnv(bin, ['rmi', '-f', `localhost/kindling-bench-${k}:1`], env)
      await janitor()
    },
  }
}

export async function startDocker(tars: { bb: string; node: string }, workDir: string): Promise<Engine | string> {
  const dockerd = which('dockerd')
  if (!dockerd) return 'dockerd is not installed (apt-get install docker.io)'
  // Debian's client; a newer CLI elsewhere on PATH may not talk to a 20.10 daemon
  const cli = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : which('docker')
  if (!cli) return 'the docker CLI is not installed'
  const root = path.join(workDir, 'docker')
  for (const d of ['data', 'exec']) fs.mkdirSync(path.join(root, d), { recursive: true })
  const sock = path.join(root, 'docker.sock')
  const janitor = cgroupJanitor('docker')
  const daemon = spawn(
    dockerd,
    ['--data-root', path.join(root, 'data'), '--exec-root', path.join(root, 'exec'), '-H', `unix://${sock}`, '--pidfile', path.join(root, 'dockerd.pid'), '--bridge=none', '--iptables=false', '--ip-masq=false'],
    { stdio: ['ignore', 'ignore', fs.openSync(path.join(root, 'dockerd.log'), 'w')], detached: false },
  )
  const stop = async (): Promise<void> => {
    if (daemon.exitCode !== null) return
    daemon.kill('SIGTERM')
    const done = new Promise((r) => daemon.on('exit', r))
    const t = setTimeout(() => daemon.kill('SIGKILL'), 15_000)
    await done
    clearTimeout(t)
  }
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}` }
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (daemon.exitCode !== null) return `dockerd exited at start (see ${root}/dockerd.log)`
    if ((await runWithEnv(cli, ['version'], env)).code === 0) break
    await new Promise((r) => setTimeout(r, 200))
  }
  if ((await runWithEnv(cli, ['version'], env)).code !== 0) {
    await stop()
    return 'dockerd did not come up within 30 s'
  }
  try {
    await importImages([cli], tars, env)
  } catch (e) {
    await stop()
    return (e as Error).message
  }
  return {
    name: 'docker',
    run: (image, cmd, input) => runWithEnv(cli, ['run', '--rm', '-i', '--network', 'none', `kindling-bench-${image}:1`, ...cmd], env, input),
    close: async () => {
      await stop()
      // containerd's shims may outlive dockerd briefly; their mounts live under our exec root
      await runCommand('sh', ['-c', `grep -o ' ${root}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`])
      fs.rmSync(root, { recursive: true, force: true })
      await janitor()
    },
  }
}

/** gVisor: runs the same OCI bundle as crun (ptrace platform; no pids limit: it would kill the sandbox). */
export function runscAvailable(): string | undefined {
  return which('runsc') ? undefined : 'runsc is not installed (apt-get install runsc)'
}
