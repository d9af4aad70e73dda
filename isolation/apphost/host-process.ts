// The gateway's handle on one app host process: starts it, correlates request and reply frames,
// enforces call deadlines (a host that does not answer by deadline + grace is killed, the only way
// to stop code that ignores its interruption checks) and reports its death.
import { type ChildProcess, spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import { type ModuleEntry, siblingModule } from '../entry.js'
import { isErrorCode, KindlingError } from '../errors.js'
import type { CancelSignal } from '../tier.js'
import { encodeFrameParts, FRAME, type Frame, FrameDecoder, type ErrorMeta } from './protocol.js'

export interface HostProcessOptions {
  heapMiB: number
  /** module specifiers of extra sandbox kinds the host should load (worker threads, ...) */
  kinds: string[]
  /** profiling: run the host with --cpu-prof, its profile written into this folder when it exits */
  cpuProfDir?: string
  /** receives the host's own stderr lines */
  onStderr?: (line: string) => void
}

interface Pending {
  resolve(f: Frame): void
  reject(e: Error): void
  /** Date.now() past which the host counts as stuck on this request */
  killAt?: number
  /** the caller's signal and its listener (a hang-up sends CANCEL), removed once the request settles */
  signal?: CancelSignal
  onAbort?: () => void
}

function unlisten(p: Pending): void {
  if (p.onAbort) p.signal!.removeEventListener('abort', p.onAbort)
}

/** How often a host with calls under way checks them against their deadlines. */
const STUCK_SWEEP_MS = 20

/** The app host program (host-main), as HostProcess starts it; benchmarks start it themselves. */
export function appHostEntry(): ModuleEntry {
  return siblingModule(import.meta.url, 'host-main')
}

/**
 * The environment of an app host: the gateway's, without NODE_EXTRA_CA_CERTS. Node parses that
 * bundle at every start (90-150 ms against 20-40 ms for `node -e 0` on this machine class), and an
 * app host never opens a TLS connection: functions have no network.
 */
export function hostEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _ignored, ...rest } = env
  return rest
}

let nextHostSeq = 1

export class HostProcess extends EventEmitter {
  readonly seq = nextHostSeq++
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly startedAt = performance.now()
  /** milliseconds from spawn to the READY frame */
  startupMs = 0
  alive = true
  /** the process has exited (alive turns false earlier, when kindling kills it) */
  exited = false
  exitReason: string | undefined
  private readonly socket: net.Socket
  private readonly decoder = new FrameDecoder()
  private readonly pending = new Map<number, Pending>()
  private nextId = 1

  constructor(opts: HostProcessOptions) {
    super()
    const entry = appHostEntry()
    const prof = opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`, '--cpu-prof-interval=250'] : []
    const args = [...entry.execArgv, ...prof, `--max-old-space-size=${opts.heapMiB}`, entry.path, ...opts.kinds.map((k) => `--kind=${k}`)]
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe', 'pipe'], env: hostEnvironment() })
    this.socket = this.child.stdio[3] as net.Socket
    let readyResolve!: () => void
    let readyReject!: (e: Error) => void
    this.ready = new Promise((res, rej) => {
      readyResolve = res
      readyReject = rej
    })
    this.ready.catch(() => {})
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (f) => {
          if (f.type === FRAME.READY) {
            this.startupMs = performance.now() - this.startedAt
            readyResolve()
            return
          }
          const p = this.pending.get(f.id)
          if (!p) return
          this.pending.delete(f.id)
          unlisten(p)
          if (f.type === FRAME.ERROR) {
            const m = f.meta as ErrorMeta
            p.reject(new KindlingError(isErrorCode(m.code) ? m.code : 'KINDLING_ERR_SANDBOX_FAILED', m.message))
          } else {
            p.resolve(f)
          }
        })
      } catch (e) {
        this.kill(`protocol error: ${(e as Error).message}`)
      }
    })
    this.socket.on('error', () => {})
    if (opts.onStderr && this.child.stderr) {
      let partial = ''
      this.child.stderr.setEncoding('utf8')
      this.child.stderr.on('data', (s: string) => {
        const lines = (partial + s).split('\n')
        partial = lines.pop() ?? ''
        for (const l of lines) if (l) opts.onStderr!(l)
      })
    }
    this.child.on('exit', (code, signal) => {
      this.alive = false
      this.exited = true
      this.exitReason ??= signal ? `killed by ${signal}` : `exited with code ${code}`
      readyReject(new KindlingError('KINDLING_ERR_HOST_DIED', `the app host ${this.exitReason} before it was ready`))
      const err = () => new KindlingError('KINDLING_ERR_HOST_DIED', `the app host running this call ${this.exitReason}`)
      for (const p of this.pending.values()) {
        unlisten(p)
        p.reject(err())
      }
      this.pending.clear()
      this.emit('exit', this.exitReason)
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  get pendingCount(): number {
    return this.pending.size
  }

  /**
   * Sends a frame and waits for its reply. With a deadline, a reply that has not come by
   * deadline + graceMs means the host is stuck: it is killed and every pending call fails.
   */
  request(type: number, meta: unknown, payload?: Buffer, deadline?: { at: number; graceMs: number }, signal?: CancelSignal): Promise<Frame> {
    if (!this.alive) return Promise.reject(new KindlingError('KINDLING_ERR_HOST_DIED', `the app host ${this.exitReason ?? 'is gone'}`))
    const id = this.nextId++
    if (this.nextId > 0xfffffff0) this.nextId = 1
    return new Promise<Frame>((resolve, reject) => {
      const p: Pending = { resolve, reject }
      if (deadline) {
        p.killAt = deadline.at + deadline.graceMs
        // one sweep timer per host, not a timer per call: calls are many, stuck ones rare
        this.sweeper ??= setTimeout(this.sweep, STUCK_SWEEP_MS)
      }
      this.pending.set(id, p)
      // head and body leave in one writev (the socket is corked), the body without a copy
      const [head, body] = encodeFrameParts(type, id, meta, payload)
      this.send(head)
      if (body.length) this.send(body)
      if (signal) {
        // the caller hung up: the host is told to stop the call; its answer still settles the request
        p.signal = signal
        p.onAbort = () => {
          if (this.pending.get(id) === p && this.alive) this.send(encodeFrameParts(FRAME.CANCEL, id, undefined)[0])
        }
        signal.addEventListener('abort', p.onAbort, { once: true })
      }
    })
  }

  private corked = false
  private readonly flush = () => {
    this.corked = false
    this.socket.uncork()
  }

  /**
   * Frames written in one turn of the event loop leave in one writev: under load many calls reach
   * the same host per turn, and one syscall per call would dominate the gateway's CPU.
   */
  private send(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      setImmediate(this.flush)
    }
    this.socket.write(frame)
  }

  private sweeper: NodeJS.Timeout | undefined
  private readonly sweep = () => {
    this.sweeper = undefined
    const now = Date.now()
    let watching = false
    for (const [id, p] of this.pending) {
      if (p.killAt === undefined) continue
      if (p.killAt <= now) return this.onStuck(id, p)
      watching = true
    }
    if (watching && this.alive) this.sweeper = setTimeout(this.sweep, STUCK_SWEEP_MS)
  }

  private onStuck(id: number, p: Pending): void {
    this.pending.delete(id)
    unlisten(p)
    p.reject(new KindlingError('KINDLING_ERR_TIMEOUT', 'the call ran past its timeout; its app host did not stop it and was replaced'))
    this.kill('killed after a call ran past its timeout')
  }

  kill(reason: string): void {
    if (!this.alive) return
    // not alive from now on, before its exit event arrives: a host being killed must never get a
    // new function or call (under load the event can come well after the next deploy)
    this.alive = false
    this.exitReason = reason
    this.child.kill('SIGKILL')
  }

  /** Ends the host and waits for it to be gone. */
  async stop(): Promise<void> {
    if (this.exited) return
    const gone = new Promise<void>((res) => this.once('exit', () => res()))
    this.kill('stopped')
    await gone
  }
}
