// The floor of the `wasm` tier, whose instances live in an app host process: a bare
// instantiate+call (bare-wasm.ts) done in a child node process and asked for over a socketpair,
// one round trip per call, as a frame to the app host is; and the same round trip with nothing
// done in the child (the hop alone). No kindling code on either side.
import { type ChildProcess, spawn } from 'node:child_process'
import type net from 'node:net'
import { performance } from 'node:perf_hooks'
import { hostEnvironment, siblingModule } from '../../isolation/index.js'
import { track } from './children.js'

export class ChildFloor {
  private buf: Buffer = Buffer.alloc(0)
  private waiting: ((out: Buffer) => void) | undefined

  private constructor(
    private readonly child: ChildProcess,
    private readonly socket: net.Socket,
  ) {
    socket.setNoDelay?.(true)
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
      if (this.buf.length < 4 || this.buf.length < 4 + this.buf.readUInt32LE(0)) return
      const out = this.buf.subarray(4, 4 + this.buf.readUInt32LE(0))
      this.buf = Buffer.alloc(0)
      const w = this.waiting
      this.waiting = undefined
      w?.(out)
    })
  }

  /** `echo`: the child answers with the body; `wasi`/`as`: with a bare instantiate+call of `modulePath`. */
  static async start(mode: 'echo' | 'wasi' | 'as', modulePath?: string): Promise<ChildFloor> {
    const entry = siblingModule(import.meta.url, 'child-floor-main')
    const args = [...entry.execArgv, entry.path, mode, ...(modulePath ? [modulePath] : [])]
    // the environment kindling gives an app host (no NODE_EXTRA_CA_CERTS)
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'pipe'], env: hostEnvironment() }))
    const f = new ChildFloor(child, child.stdio[3] as net.Socket)
    await f.call(Buffer.from('ready?'))
    return f
  }

  /** One round trip: the child's answer and the microseconds from send to answer. */
  call(body: Buffer): Promise<{ out: Buffer; us: number }> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error(`the floor's child exited with ${this.child.exitCode}`))
      const head = Buffer.allocUnsafe(4)
      head.writeUInt32LE(body.length, 0)
      const t0 = performance.now()
      this.waiting = (out) => resolve({ out, us: (performance.now() - t0) * 1000 })
      this.socket.write(Buffer.concat([head, body]))
    })
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return
    const gone = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGKILL')
    await gone
  }
}
