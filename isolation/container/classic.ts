// Classic watchdog mode: one process per call. The container is created ahead of time (`crun
// create`: namespaces, mounts, cgroups), so a call only pays `crun start` plus the function itself.
//
// The container's init is a tiny shell (the shim) that reads the call's Http_* variables, runs
// fprocess with the body on stdin, and writes fprocess's exit status to fd 3: `crun create` exits
// once the container exists, so kindling is not the parent of the container's processes and could
// not learn the exit status otherwise. A container serves exactly one call (alive turns false).
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { ChildLike } from '../spawner/launcher.js'
import { failedResult } from '../errors.js'
import type { CancelSignal, InvokeRequest, InvokeResult, Sandbox } from '../tier.js'
import { cgiEnvironment, GATEWAY_HTTP_VARS } from '../wasm/cgi.js'
import { closeQuietly, makeStdinFifo, writeAndClose } from './fifo.js'
import { CappedBuffer, LineSplitter } from './lines.js'
import type { FunctionPlan, TierServices } from './plan.js'
import { RuntimeError } from './runtime.js'
import { ContainerSandboxBase } from './sandbox-base.js'
import type { BindMount } from './spec.js'
import { errorResult, responseContentType } from './results.js'
import { cpuUsageUs } from './cgroups.js'

export const IO_IN_CONTAINER = '/run/kindling'

/**
 * The shim: export the call's variables (one KEY=value per line, names checked by kindling), run
 * fprocess without fd 3, report its status on fd 3. No eval: values are never parsed by the shell.
 */
export const SHIM_SCRIPT =
  'while IFS= read -r kv; do [ -n "$kv" ] && export "$kv"; done < /run/kindling/env; "$@" 3>&-; echo $? >&3'

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The variables of one call, as the classic watchdog sets them (plus the CGI ones the wasm tier
 * sets): the shim exports them over the container's own environment, so a header-made Http_*
 * variable never takes the name of a gateway-set one (cgiEnvironment) nor of one in `containerEnv`
 * (the deployment's envVars and the image's environment, "KEY=value").
 */
export function callEnvironment(req: InvokeRequest, functionName: string, containerEnv: readonly string[] = []): string[] {
  const configured = new Set(containerEnv.map((kv) => kv.slice(0, kv.indexOf('='))))
  const env = cgiEnvironment(req, functionName, {})
  env.push(`Http_ContentLength=${req.body.length}`)
  if (req.headers['transfer-encoding']) env.push(`Http_Transfer_Encoding=${req.headers['transfer-encoding']}`)
  const out: string[] = []
  for (const kv of env) {
    const i = kv.indexOf('=')
    const name = kv.slice(0, i)
    if (!ENV_NAME.test(name)) continue // a header name the shell cannot hold (Go would pass it; rare)
    if (configured.has(name) && name.startsWith('Http_') && !GATEWAY_HTTP_VARS.has(name)) continue // made from a header: the deployment's value stays
    out.push(`${name}=${kv.slice(i + 1).replace(/[\r\n\0]/g, ' ')}`)
  }
  return out
}

export class ClassicSandbox extends ContainerSandboxBase implements Sandbox {
  private stdinWrite: number | undefined
  private live = false
  private used = false
  private stdout = new CappedBuffer(0)
  private stderr = new CappedBuffer(0)
  private status = ''
  private finished: Promise<void> = Promise.resolve()
  /** the container ended before its call (killed from outside) */
  private diedEarly = false
  /** set during a call: stops the container early (deadline, cancel, too much output) */
  private stopHook: ((why: 'output') => void) | undefined

  get alive(): boolean {
    return this.live && !this.used && !this.disposed
  }

  constructor(id: string, svc: TierServices, plan: FunctionPlan, prepareUs: number) {
    super(id, svc, plan, prepareUs)
  }

  /** Writes the bundle and creates the container, waiting at its start. */
  async create(): Promise<void> {
    const t0 = performance.now()
    const shim = this.plan.shim!
    await this.makeDir()
    const ioDir = path.join(this.fsDir, 'io')
    fs.mkdirSync(ioDir, { recursive: true })
    fs.writeFileSync(path.join(ioDir, 'env'), '')
    const binds: BindMount[] = [{ destination: IO_IN_CONTAINER, source: ioDir, readonly: true }]
    let shell: string
    if (shim.kind === 'host-busybox') {
      // bound from the tier's shared copy (no copy per sandbox: the sandbox's tmpfs is another file system)
      shell = `${IO_IN_CONTAINER}/busybox`
      fs.writeFileSync(path.join(ioDir, 'busybox'), '', { mode: 0o755 })
      binds.push({ destination: shell, source: shim.hostPath, readonly: true })
    } else {
      shell = shim.path
    }
    const args = shim.kind === 'host-busybox' ? [shell, 'sh', '-c', SHIM_SCRIPT, 'kindling-shim', ...this.plan.argv] : [shell, '-c', SHIM_SCRIPT, 'kindling-shim', ...this.plan.argv]
    const bundle = await this.writeBundle(args, this.plan.env, binds)
    const fifo = await makeStdinFifo(path.join(this.dir, 'stdin'), this.svc.fifos)
    this.stdinWrite = fifo.writeFd
    const cap = this.svc.ctx.settings.maxBodyBytes
    this.stdout = new CappedBuffer(cap)
    this.stderr = new CappedBuffer(cap)
    let child: ChildLike
    try {
      child = this.svc.runtime.spawnCreate(this.containerId, bundle, { stdinFifo: fifo.path, outputs: 3 }, {
        pidFile: path.join(this.dir, 'pid'),
        preserveFds: 1,
      })
    } catch (e) {
      closeQuietly(fifo.keepFd)
      throw e
    }
    // once the child has its read end, only kindling's write end may remain; close exactly once:
    // a closed fd number is soon reused, and a second close would hit someone else's file
    let keepOpen = true
    const dropKeep = () => {
      if (keepOpen) closeQuietly(fifo.keepFd)
      keepOpen = false
    }
    child.once('spawn', dropKeep)
    child.once('error', dropKeep)
    child.once('exit', dropKeep)
    const ends = [child.stdout!, child.stderr!, child.stdio[3]!].map(
      (s) => new Promise<void>((resolve) => {
        s.on('end', resolve)
        s.on('close', resolve)
        s.on('error', () => resolve())
      }),
    )
    const push = (buf: CappedBuffer, d: Buffer): void => {
      buf.push(d)
      if (buf.overflowed) this.stopHook?.('output')
    }
    child.stdout!.on('data', (d: Buffer) => push(this.stdout, d))
    child.stderr!.on('data', (d: Buffer) => push(this.stderr, d))
    child.stdio[3]!.on('data', (d: Buffer) => (this.status += d.toString()))
    this.finished = Promise.all(ends).then(() => {
      if (!this.used && this.live) {
        this.diedEarly = true
        this.live = false
        this.log('system', `container ${this.containerId} ended before its call; it will be replaced`)
      }
    })
    const code = await new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(127))
      child.on('exit', (c: number | null) => resolve(c))
    })
    this.created = code === 0
    if (code !== 0) {
      const why = this.stderr.toBuffer().toString().trim()
      await this.destroy()
      throw new Error(`${this.svc.runtime.name} create failed (exit ${code}): ${why}`)
    }
    if (this.plan.egress) {
      try {
        // the namespace exists once the container is created: the proxy is there before fprocess runs
        await this.startEgress(Number(fs.readFileSync(path.join(this.dir, 'pid'), 'utf8')), this.svc.options.readyTimeoutMs)
      } catch (e) {
        await this.destroy()
        throw e
      }
    }
    this.live = true
    this.startup = { ...this.startup, spawnUs: (performance.now() - t0) * 1000 }
  }

  async invoke(req: InvokeRequest, signal: CancelSignal): Promise<InvokeResult> {
    const t0 = performance.now()
    if (!this.alive) {
      return errorResult('KINDLING_ERR_HOST_DIED', this.diedEarly ? 'the container ended before the call' : 'the container was already used or disposed', t0)
    }
    this.used = true
    if (signal.aborted) {
      setImmediate(() => void this.destroy())
      return errorResult('KINDLING_ERR_TIMEOUT', 'the call was cancelled before it started', t0)
    }
    const w = this.plan.watchdog
    const deadline = Math.min(req.deadline, w.execTimeoutMs ? Date.now() + w.execTimeoutMs : Infinity)
    fs.writeFileSync(path.join(this.fsDir, 'io', 'env'), callEnvironment(req, this.plan.artifact.name, this.plan.env).join('\n') + '\n')
    writeAndClose(this.stdinWrite!, req.body)
    this.stdinWrite = undefined
    let stopped: 'timeout' | 'cancelled' | 'output' | undefined
    const stop = (why: 'timeout' | 'cancelled' | 'output'): void => {
      if (stopped) return
      stopped = why
      void this.svc.runtime.kill(this.containerId, 'KILL')
    }
    this.stopHook = stop
    const timer = setTimeout(() => stop('timeout'), Math.max(0, deadline - Date.now()))
    const onAbort = (): void => stop('cancelled')
    signal.addEventListener('abort', onAbort, { once: true })
    if (signal.aborted) onAbort()
    this.log('system', 'Forking fprocess.')
    let instantiateUs = 0
    const endEgress = this.egress?.beginCall(deadline)
    try {
      await this.svc.runtime.startFast(this.containerId)
      instantiateUs = (performance.now() - t0) * 1000
      await this.finished
    } catch (e) {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      this.live = false
      void this.destroy()
      const msg = e instanceof RuntimeError ? e.message : String(e)
      return errorResult('KINDLING_ERR_SANDBOX_FAILED', `the container did not start: ${msg}`, t0)
    }
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
    endEgress?.()
    this.stopHook = undefined
    this.live = false
    const result = this.result(req, stopped, t0, instantiateUs)
    // usage: the container ran this call only, so its cgroup's CPU is the call's
    result.cpuUs = cpuUsageUs(this.cgroupsPath)
    // delete after the answer has gone: spawning `crun delete` costs ~2 ms of synchronous fork/exec
    setImmediate(() => void this.destroy()) // dispose() waits for it
    return result
  }

  private result(req: InvokeRequest, stopped: 'timeout' | 'cancelled' | 'output' | undefined, t0: number, instantiateUs: number): InvokeResult {
    const out = this.stdout.toBuffer()
    const errText = this.stderr.length ? this.stderr.toBuffer().toString() : ''
    const w = this.plan.watchdog
    if (errText) {
      const split = new LineSplitter((l) => this.log('stderr', l))
      split.push(errText)
      split.flush()
    }
    if (w.writeDebug && out.length) {
      const split = new LineSplitter((l) => this.log('stdout', l))
      split.push(out)
      split.flush()
    }
    const statusText = this.status.trim()
    const exit = /^\d+$/.test(statusText) ? Number(statusText) : undefined
    const totalUs = (performance.now() - t0) * 1000
    const timings = { instantiateUs, runUs: totalUs - instantiateUs, totalUs }
    const stderr = errText || undefined
    // OpenFaaS's classic watchdog answers 408 on exec_timeout; kindling answers 504 in every tier.
    const more = { stderr, timings }
    if (stopped === 'timeout') return failedResult('KINDLING_ERR_TIMEOUT', 'the call ran past its timeout and was killed', more)
    if (stopped === 'cancelled') return failedResult('KINDLING_ERR_TIMEOUT', 'the call was cancelled', more)
    if (stopped === 'output') {
      return failedResult('KINDLING_ERR_FUNCTION_FAILED', `the function wrote more than ${this.svc.ctx.settings.maxBodyBytes} bytes and was killed`, more)
    }
    if ((exit === undefined || exit !== 0) && this.oomKilled()) {
      const mib = Math.round(this.plan.memoryBytes / 1048576)
      return failedResult('KINDLING_ERR_MEMORY_LIMIT', `the function was killed at its memory limit of ${mib} MiB`, more)
    }
    if (exit === undefined) return failedResult('KINDLING_ERR_FUNCTION_FAILED', 'the container was killed before fprocess finished', more)
    if (exit !== 0) {
      this.log('system', `fprocess exited with status ${exit}`)
      return failedResult('KINDLING_ERR_FUNCTION_EXIT', `fprocess exited with status ${exit}`, more)
    }
    const body = w.combineOutput && errText ? Buffer.concat([out, Buffer.from(errText)]) : out
    const seconds = totalUs / 1e6
    this.log('system', `Wrote ${body.length} Bytes - Duration: ${seconds.toFixed(6)}s`)
    return {
      status: 200,
      headers: { 'content-type': responseContentType(w.contentType, req), 'x-duration-seconds': seconds.toFixed(6) },
      body,
      stderr,
      timings,
    }
  }

  protected releaseResources(): void {
    closeQuietly(this.stdinWrite)
    this.stdinWrite = undefined
    this.live = false
  }
}
