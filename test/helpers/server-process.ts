// Runs `kindling serve` as a real child process (as a user would), to test restarts and kill -9.
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { REPO_ROOT } from '../../runtime/version.js'

/** true while a process with this pid exists (signal 0 tests for it without sending anything) */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export interface ServerProcess {
  child: ChildProcess
  url: string
  output(): string
  /** ends the server the hard way (kill -9) and waits for it */
  kill9(): Promise<void>
  stop(): Promise<void>
}

export async function startServerProcess(dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'runtime', 'cli', 'main.ts'), 'serve'], {
    env: { ...process.env, KINDLING_DATA_DIR: dataDir, KINDLING_PORT: '0', KINDLING_DEPLOY_EXAMPLES: 'false', KINDLING_SPARE_APP_HOSTS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<void>((res) => child.once('exit', () => res()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kindling did not start:\n${out}`)), 30_000)
    const check = () => {
      const m = /kindling (http:\/\/\S+)/.exec(out)
      if (m && /\n  tiers: .*\n/.test(out)) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    child.stdout!.on('data', check)
    child.once('exit', (code) => reject(new Error(`kindling exited with ${code}:\n${out}`)))
  })
  return {
    child,
    url,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL')
      await exited
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      await exited
    },
  }
}
