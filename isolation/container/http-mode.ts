// HTTP mode (of-watchdog's "http"): one long-running server per container, calls proxied to it.
//
// The container has its own network namespace with loopback only. kindling reaches the server
// through a Unix socket in a per-container folder bind-mounted at /run/kindling:
//  - a server that honours KINDLING_HTTP_SOCKET listens on /run/kindling/http.sock itself;
//  - a server that only listens on TCP (upstream_url=http://127.0.0.1:PORT, as OpenFaaS templates
//    do) gets a small forwarder that kindling starts inside the container's network namespace
//    with nsenter; it listens on the socket and pipes to 127.0.0.1:PORT. No veth, no IPs.
// The sandbox is ready once the server accepts a connection (and ready_path answers 2xx if set).
// An idle container is frozen with the cgroup freezer and thawed by the next call.
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { ChildLike } from '../spawner/launcher.js'
import type { CancelSignal, InvokeRequest, InvokeResult, ResponseHeaders, Sandbox } from '../tier.js'
import { cpuUsageUs, freeze, hasFreezer, thaw } from './cgroups.js'
import { CappedBuffer, LineSplitter } from './lines.js'
import type { FunctionPlan, TierServices } from './plan.js'
import { errorResult } from './results.js'
import { ContainerSandboxBase } from './sandbox-base.js'
import { HTTP_SOCKET_ENV, HTTP_SOCKET_IN_CONTAINER } from './watchdog.js'
import { hostEnvironment } from '../apphost/host-process.js'
import { isHopByHop, stripHopByHop } from '../http-headers.js'

export class HttpSandbox extends ContainerSandboxBase implements Sandbox {
  private live = false
  private inflight = 0
  /** calls taken so far (usage: tells whether another started during one) */
  private callsTaken = 0
  private paused = false
  private pausing: Promise<void> | undefined
  private idleTimer: NodeJS.Timeout | undefined
  private agent = newAgent(this.svc.options.keepAliveMs)
  private sockPath = ''
  private sockDir = ''
  private forwarder: ChildLike | undefined
  private died: Promise<void> = new Promise(() => {})
  private hasDied = false
  /** time the last call spent thawing the container, in µs (0 when it was not paused) */
  lastResumeUs = 0
  pauseCount = 0

  constructor(id: string, svc: TierServices, plan: FunctionPlan, prepareUs: number) {
    super(id, svc, plan, prepareUs)
  }

  get alive(): boolean {
    return this.live && !this.disposed && !this.hasDied
  }

  get isPaused(): boolean {
    return this.paused
  }

  /** Starts the container and waits until its server is ready. */
  async start(): Promise<void> {
    const t0 = performance.now()
    const w = this.plan.watchdog
    await this.makeDir()
    this.sockDir = this.svc.naming.socketDir(this.containerId)
    fs.mkdirSync(this.sockDir, { recursive: true })
    // a server running as the image's User must be able to create its socket there
    if (this.plan.user) fs.chownSync(this.sockDir, this.plan.user.uid, this.plan.user.gid)
    this.sockPath = path.join(this.sockDir, 'http.sock')
    const env = w.upstream.kind === 'unix' ? [...this.plan.env, `${HTTP_SOCKET_ENV}=${HTTP_SOCKET_IN_CONTAINER}`] : this.plan.env
    const bundle = await this.writeBundle(this.plan.argv, env, [{ destination: '/run/kindling', source: this.sockDir, readonly: false }])
    const pidFile = path.join(this.dir, 'pid')
    const runner = this.svc.runtime.spawnRunDetached(this.containerId, bundle, { pidFile })
    let startErr = ''
    const outLines = new LineSplitter((l) => this.log('stdout', l))
    const errLines = new LineSplitter((l) => this.log('stderr', l))
    runner.stdout!.on('data', (d: Buffer) => outLines.push(d))
    runner.stderr!.on('data', (d: Buffer) => {
      if (!this.created) startErr += d.toString()
      errLines.push(d)
    })
    const ends = [runner.stdout!, runner.stderr!].map((s) => new Promise<void>((r) => (s.on('close', r), s.on('error', () => r()))))
    this.died = Promise.all(ends).then(() => {
      outLines.flush()
      errLines.flush()
      this.onDeath()
    })
    const code = await new Promise<number | null>((resolve) => {
      runner.on('error', () => resolve(127))
      runner.on('exit', (c: number | null) => resolve(c))
    })
    this.created = code === 0
    if (code !== 0) {
      await this.destroy()
      throw new Error(`${this.svc.runtime.name} run failed (exit ${code}): ${startErr.trim()}`)
    }
    try {
      // with a grant, the proxy comes up while the server starts (requests it makes before are refused)
      if (this.plan.egress) await this.startEgress(Number(fs.readFileSync(pidFile, 'utf8')), this.remaining(t0))
      if (w.upstream.kind === 'tcp') await this.startForwarder(Number(fs.readFileSync(pidFile, 'utf8')), w.upstream.host, w.upstream.port, t0)
      else await this.waitForSocket(t0)
      if (w.readyPath) await this.waitForReadyPath(w.readyPath, t0)
    } catch (e) {
      await this.destroy()
      throw e
    }
    this.live = true
    this.startup = { ...this.startup, spawnUs: (performance.now() - t0) * 1000 }
    this.scheduleIdle()
  }

  private remaining(t0: number): number {
    return this.svc.options.readyTimeoutMs - (performance.now() - t0)
  }

  private notReady(t0: number, what: string): Error {
    if (this.hasDied) return new Error(`the server exited before it was ready (${this.oomKilled() ? 'killed at its memory limit' : 'see its logs'})`)
    return new Error(`the server was not ready within ${this.svc.options.readyTimeoutMs} ms: ${what}`)
  }

  private async waitForSocket(t0: number): Promise<void> {
    for (let i = 0; ; i++) {
      if (this.hasDied || this.remaining(t0) <= 0) throw this.notReady(t0, `nothing accepted connections on ${HTTP_SOCKET_IN_CONTAINER} (${HTTP_SOCKET_ENV})`)
      const ok = await new Promise<boolean>((resolve) => {
        const c = net.connect(this.sockPath)
        c.once('connect', () => (c.destroy(), resolve(true)))
        c.once('error', () => resolve(false))
      })
      if (ok) return
      await sleep(Math.min(1 + i, 10))
    }
  }

  private async startForwarder(pid: number, host: string, port: number, t0: number): Promise<void> {
    // the forwarder only pipes bytes: no extra CA bundle to parse at its start
    const fwd = this.svc.runtime.spawnHelper(
      'nsenter',
      [`--net=/proc/${pid}/ns/net`, '--', process.execPath, this.svc.forwarderScript, this.sockPath, host, String(port), this.svc.naming.idPrefix],
      hostEnvironment(),
    )
    this.forwarder = fwd
    fwd.stdin!.on('error', () => {})
    fwd.stderr!.on('data', (d: Buffer) => this.log('system', `forwarder: ${d.toString().trim()}`))
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, this.remaining(t0)))
      let buf = ''
      fwd.stdout!.on('data', (d: Buffer) => {
        buf += d.toString()
        if (buf.includes('ready')) (clearTimeout(timer), resolve(true))
      })
      fwd.on('exit', () => (clearTimeout(timer), resolve(false)))
      void this.died.then(() => (clearTimeout(timer), resolve(false)))
    })
    if (!ready) throw this.notReady(t0, `nothing accepted connections on ${host}:${port} inside the container (upstream_url)`)
  }

  private async waitForReadyPath(readyPath: string, t0: number): Promise<void> {
    for (let i = 0; ; i++) {
      if (this.hasDied || this.remaining(t0) <= 0) throw this.notReady(t0, `GET ${readyPath} did not answer 2xx`)
      const status = await new Promise<number>((resolve) => {
        const r = http.request({ socketPath: this.sockPath, path: readyPath, method: 'GET', agent: false }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        r.on('error', () => resolve(0))
        r.setTimeout(1000, () => r.destroy())
        r.end()
      })
      if (status >= 200 && status < 300) return
      await sleep(Math.min(5 + i * 5, 50))
    }
  }

  private onDeath(): void {
    if (this.hasDied) return
    this.hasDied = true
    this.live = false
    if (!this.disposed && this.created) {
      this.log('system', this.oomKilled() ? 'the server was killed at its memory limit; it will be replaced' : 'the server exited; it will be replaced')
    }
  }

  private scheduleIdle(): void {
    clearTimeout(this.idleTimer)
    const ms = this.svc.options.pauseIdleMs
    if (ms <= 0 || this.inflight > 0 || !this.alive) return
    this.idleTimer = setTimeout(() => void this.pause(), ms)
    this.idleTimer.unref()
  }

  /** Freezes the container (cgroup freezer); the next call thaws it. */
  async pause(): Promise<void> {
    if (this.paused || this.pausing || this.inflight > 0 || !this.alive) return
    this.pausing = (async () => {
      try {
        if (hasFreezer(this.cgroupsPath)) await freeze(this.cgroupsPath)
        else await this.svc.runtime.pause(this.containerId)
        this.paused = true
        this.pauseCount++
      } catch (e) {
        this.log('system', `could not pause the container: ${(e as Error).message}`)
      }
    })()
    await this.pausing
    this.pausing = undefined
  }

  private async resume(): Promise<number> {
    if (this.pausing) await this.pausing
    if (!this.paused) return 0
    const t = performance.now()
    if (hasFreezer(this.cgroupsPath)) thaw(this.cgroupsPath)
    else await this.svc.runtime.resume(this.containerId)
    this.paused = false
    // connections idle through the pause may be closed by the server as soon as its timers run again
    this.agent.destroy()
    this.agent = newAgent(this.svc.options.keepAliveMs)
    return (performance.now() - t) * 1000
  }

  async invoke(req: InvokeRequest, signal: CancelSignal): Promise<InvokeResult> {
    const t0 = performance.now()
    if (!this.alive) return errorResult('KINDLING_ERR_HOST_DIED', 'the server container is not running', t0)
    const w = this.plan.watchdog
    if (w.maxInflight > 0 && this.inflight >= w.maxInflight) {
      return errorResult('KINDLING_ERR_OVERLOADED', `the function is at max_inflight=${w.maxInflight}`, t0)
    }
    this.inflight++
    clearTimeout(this.idleTimer)
    // usage: the server's cgroup CPU during the call is the call's when it served no other meanwhile
    const seq = ++this.callsTaken
    const alone = this.inflight === 1
    // with a grant: the server's requests go out while a call is in flight, until the latest deadline
    const endEgress = this.egress?.beginCall(this.deadlineOf(req))
    try {
      this.lastResumeUs = await this.resume()
      const cpu0 = alone ? cpuUsageUs(this.cgroupsPath) : undefined
      const result = await this.proxy(req, signal, t0)
      if (cpu0 !== undefined && this.callsTaken === seq) {
        const cpu1 = cpuUsageUs(this.cgroupsPath)
        if (cpu1 !== undefined) result.cpuUs = cpu1 - cpu0
      }
      result.timings = { instantiateUs: this.lastResumeUs, runUs: result.timings!.totalUs - this.lastResumeUs, totalUs: result.timings!.totalUs }
      if (this.plan.artifact.stateMode === 'fresh') this.live = false // a fresh server per call
      return result
    } finally {
      endEgress?.()
      this.inflight--
      this.scheduleIdle()
    }
  }

  private deadlineOf(req: InvokeRequest): number {
    return Math.min(req.deadline, this.plan.watchdog.execTimeoutMs ? Date.now() + this.plan.watchdog.execTimeoutMs : Infinity)
  }

  private proxy(req: InvokeRequest, signal: CancelSignal, t0: number): Promise<InvokeResult> {
    const deadline = this.deadlineOf(req)
    const headers = stripHopByHop(req.headers, { contentLength: true })
    headers['content-length'] = String(req.body.length)
    const target = req.path + (req.query ? `?${req.query}` : '')
    const cap = this.svc.ctx.settings.maxBodyBytes
    return new Promise<InvokeResult>((resolve) => {
      let settled = false
      let stopped: 'timeout' | 'cancelled' | undefined
      let current: http.ClientRequest | undefined
      const finish = (r: InvokeResult): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        resolve(r)
      }
      const stop = (why: 'timeout' | 'cancelled'): void => {
        stopped = why
        current?.destroy(new Error(why))
        // a call stuck past its deadline takes the server with it: the pool starts a new one
        this.live = false
        void this.svc.runtime.kill(this.containerId, 'KILL')
        // OpenFaaS returns 504 here in HTTP mode too (408 only in the classic watchdog)
        finish(errorResult('KINDLING_ERR_TIMEOUT', why === 'timeout' ? 'the call ran past its timeout; the container was killed' : 'the call was cancelled', t0))
      }
      const timer = setTimeout(() => stop('timeout'), Math.max(0, deadline - Date.now()))
      const onAbort = (): void => stop('cancelled')
      signal.addEventListener('abort', onAbort, { once: true })
      if (signal.aborted) onAbort()
      const attempt = (retry: boolean): void => {
        if (settled) return
        const r = http.request({ socketPath: this.sockPath, method: req.method, path: target, headers, agent: this.agent }, (res) => {
          const body = new CappedBuffer(cap)
          res.on('data', (d: Buffer) => {
            body.push(d)
            if (body.overflowed) r.destroy(new Error('response too large'))
          })
          res.on('end', () => {
            const out: ResponseHeaders = {}
            for (const [k, v] of Object.entries(res.headers)) {
              if (v === undefined || isHopByHop(k, { contentLength: true })) continue
              out[k] = v
            }
            const totalUs = (performance.now() - t0) * 1000
            out['x-duration-seconds'] = (totalUs / 1e6).toFixed(6)
            finish({ status: res.statusCode ?? 502, headers: out, body: body.toBuffer(), timings: { instantiateUs: 0, runUs: totalUs, totalUs } })
          })
          res.on('error', () => {})
        })
        current = r
        r.on('error', (e: NodeJS.ErrnoException) => {
          if (settled || stopped) return
          // the documented keep-alive race: the server closed an idle connection as we reused it
          if (retry && r.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return attempt(false)
          void this.failure(e, t0).then(finish)
        })
        r.end(req.body)
      }
      attempt(true)
    })
  }

  private async failure(e: NodeJS.ErrnoException, t0: number): Promise<InvokeResult> {
    if (e.message === 'response too large') {
      return errorResult('KINDLING_ERR_FUNCTION_FAILED', `the response was larger than ${this.svc.ctx.settings.maxBodyBytes} bytes`, t0)
    }
    // give the death of the container a moment to show (stdio closes just after the socket)
    await Promise.race([this.died, sleep(100)])
    if (this.hasDied) {
      if (this.oomKilled()) {
        return errorResult('KINDLING_ERR_MEMORY_LIMIT', `the server was killed at its memory limit of ${Math.round(this.plan.memoryBytes / 1048576)} MiB`, t0)
      }
      return errorResult('KINDLING_ERR_HOST_DIED', `the server exited during the call (${e.code ?? e.message})`, t0)
    }
    return errorResult('KINDLING_ERR_FUNCTION_FAILED', `the server dropped the connection (${e.code ?? e.message})`, t0)
  }

  protected releaseResources(): void {
    clearTimeout(this.idleTimer)
    this.live = false
    this.agent.destroy()
    // a frozen process cannot die: thaw before the delete kills it (also if a pause is under way)
    try {
      thaw(this.cgroupsPath)
    } catch {
      // gone already
    }
    this.paused = false
    if (this.forwarder) {
      this.forwarder.stdin?.end()
      this.forwarder.kill('SIGKILL')
    }
    if (this.sockDir && !this.sockDir.startsWith(this.dir)) fs.rmSync(this.sockDir, { recursive: true, force: true })
  }
}

/** idleMs stays below the server's own keep-alive timeout, so kindling drops an idle connection before the server does. */
function newAgent(idleMs: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 64, timeout: idleMs })
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
