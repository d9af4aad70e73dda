// The benchmark's handle on a kindling gateway running in a child process (gateway-main.ts):
// deploys over the HTTP API as a user would, and asks the child for timings and pool state.
import { type ChildProcess, fork } from 'node:child_process'
import { type InvokeTimings, siblingModule } from '../../isolation/index.js'
import { track } from './children.js'
import type { ColdStart } from '../../runtime/index.js'

export interface PoolStats {
  available: number
  idle: number
  busy: number
  starting: number
  queued: number
  desired: number
  max: number
}

export interface DeployOptions {
  /** wasm bytes to upload, or an OCI image reference */
  wasm?: Uint8Array
  image?: string
  envProcess?: string
  labels?: Record<string, string>
  /** deployment annotations (com.kindling.outbound, ...) */
  annotations?: Record<string, string>
}

export class Gateway {
  private nextId = 1
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  readonly url: URL
  readonly namespace = 'openfaas-fn'

  private constructor(
    readonly child: ChildProcess,
    url: string,
    private readonly auth: string | undefined,
  ) {
    this.url = new URL(url)
    child.on('message', (m: { id: number; value: unknown; error?: string }) => {
      const p = this.pending.get(m.id)
      if (!p) return
      this.pending.delete(m.id)
      if (m.error) p.reject(new Error(m.error))
      else p.resolve(m.value)
    })
    child.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('the gateway process exited'))
      this.pending.clear()
    })
  }

  static async start(dataDir: string, config: Record<string, unknown> = {}, opts: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Gateway> {
    const entry = siblingModule(import.meta.url, 'gateway-main')
    // SIGTERM: the gateway closes kindling (app hosts, containers) before it exits
    const child = track(
      fork(entry.path, [JSON.stringify({ dataDir, config })], {
        execArgv: [...entry.execArgv, ...(opts.execArgv ?? [])],
        env: opts.env,
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      }),
      'SIGTERM',
    )
    let stderr = ''
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (s: string) => {
      stderr = (stderr + s).slice(-4000)
    })
    const first = await new Promise<{ url: string; auth?: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the gateway did not start in 30 s:\n${stderr}`)), 30_000)
      child.once('message', (m: { value: { url: string; auth?: string } }) => {
        clearTimeout(timer)
        resolve(m.value)
      })
      child.once('exit', (code) => reject(new Error(`the gateway exited with ${code}:\n${stderr}`)))
    })
    // keep draining stderr so the child never blocks on a full pipe
    child.stderr!.removeAllListeners('data')
    child.stderr!.on('data', (s: string) => {
      if (/error|warn/i.test(s)) process.stderr.write(`[gateway] ${s}`)
    })
    return new Gateway(child, first.url, first.auth)
  }

  private ipc<T>(msg: Record<string, unknown>): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ ...msg, id })
    })
  }

  key(name: string): string {
    return `${name}.${this.namespace}`
  }

  private async api(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { 'content-type': contentType }
    if (this.auth) headers.authorization = this.auth
    const payload = body === undefined ? undefined : body instanceof Uint8Array ? new Blob([Buffer.from(body)]) : JSON.stringify(body)
    const res = await fetch(new URL(path, this.url), { method, headers, body: payload })
    return { status: res.status, text: await res.text() }
  }

  /**
   * Uploads the module (when wasm) and deploys; resolves when the API answered (202). The CE
   * autoscaler is off unless the labels say otherwise (com.openfaas.scale.factor=0): it would add
   * sandboxes in the background after a burst of calls, in the middle of the next measurement.
   */
  async deploy(name: string, opts: DeployOptions): Promise<void> {
    let image = opts.image
    if (opts.wasm) {
      const up = await this.api('POST', '/system/artifacts', opts.wasm, 'application/wasm')
      if (up.status !== 201) throw new Error(`upload of ${name} failed: ${up.status} ${up.text}`)
      image = (JSON.parse(up.text) as { image: string }).image
    }
    const labels = { 'com.openfaas.scale.factor': '0', ...opts.labels }
    const res = await this.api('POST', '/system/functions', { service: name, image, envProcess: opts.envProcess, labels, annotations: opts.annotations })
    if (res.status !== 202) throw new Error(`deploy of ${name} failed: ${res.status} ${res.text}`)
  }

  async remove(name: string): Promise<void> {
    const res = await this.api('DELETE', '/system/functions', { functionName: name })
    if (res.status !== 202 && res.status !== 200 && res.status !== 404) throw new Error(`remove of ${name} failed: ${res.status} ${res.text}`)
  }

  async scale(name: string, replicas: number): Promise<void> {
    const res = await this.api('POST', `/system/scale-function/${name}`, { serviceName: name, replicas })
    if (res.status >= 300) throw new Error(`scale of ${name} failed: ${res.status} ${res.text}`)
  }

  /** Starts recording per-call timings and cold starts of a function's pool. */
  record(name: string): Promise<void> {
    return this.ipc({ cmd: 'record', key: this.key(name) })
  }

  /** Stops recording and returns what was recorded. */
  take(name: string): Promise<{ timings: (InvokeTimings | null)[]; coldStarts: ColdStart[] }> {
    return this.ipc({ cmd: 'take', key: this.key(name) })
  }

  /** What was recorded since the last drain, recording on. */
  drain(name: string): Promise<{ timings: (InvokeTimings | null)[]; coldStarts: ColdStart[] }> {
    return this.ipc({ cmd: 'drain', key: this.key(name) })
  }

  waitIdle(name: string, timeoutMs = 30_000): Promise<boolean> {
    return this.ipc({ cmd: 'wait-idle', key: this.key(name), timeoutMs })
  }

  stats(name: string): Promise<PoolStats | null> {
    return this.ipc({ cmd: 'stats', key: this.key(name) })
  }

  pids(): Promise<{ gateway: number; appHosts: number[]; tiers: string[]; unavailable: Record<string, string | null> }> {
    return this.ipc({ cmd: 'pids' })
  }

  /**
   * Ends the gateway at once with process.exit (no close): its app hosts see their socket close and
   * exit by themselves, so that --cpu-prof profiles of both get written (a SIGKILL writes none).
   */
  async exitNow(): Promise<void> {
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()))
    this.child.send({ cmd: 'exit-now', id: 0 })
    await gone
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()))
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await this.ipc({ cmd: 'stop' }).catch(() => {})
    await gone
    clearTimeout(timer)
  }
}
