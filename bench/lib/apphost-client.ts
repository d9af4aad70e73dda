// Drives kindling's own app host program (isolation/apphost/host-main) directly over its frame
// protocol, started with node flags of the benchmark's choosing. The density experiment needs
// this: kindling's HostProcess has no option for V8 flags such as --no-wasm-trap-handler, and it
// needs to fill several hosts of one application, which the tier's one-host-per-app rule forbids.
import { type ChildProcess, spawn } from 'node:child_process'
import type net from 'node:net'
import { appHostEntry, encodeFrame, FRAME, type Frame, FrameDecoder, hostEnvironment } from '../../isolation/index.js'
import { track } from './children.js'

export class AppHostClient {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  private readonly socket: net.Socket
  private readonly decoder = new FrameDecoder()
  private readonly pending = new Map<number, { resolve(f: Frame): void; reject(e: Error): void }>()
  private nextId = 1
  exited = false
  stderr = ''

  constructor(nodeFlags: string[], heapMiB: number) {
    const entry = appHostEntry()
    this.child = track(spawn(process.execPath, [...entry.execArgv, ...nodeFlags, `--max-old-space-size=${heapMiB}`, entry.path], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: hostEnvironment() }))
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000)
    })
    this.socket = this.child.stdio[3] as net.Socket
    let readyResolve!: () => void
    let readyReject!: (e: Error) => void
    this.ready = new Promise((res, rej) => {
      readyResolve = res
      readyReject = rej
    })
    this.socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk, (f) => {
        if (f.type === FRAME.READY) return readyResolve()
        const p = this.pending.get(f.id)
        if (!p) return
        this.pending.delete(f.id)
        if (f.type === FRAME.ERROR) p.reject(new Error((f.meta as { message: string }).message))
        else p.resolve(f)
      })
    })
    this.socket.on('error', () => {})
    this.child.on('exit', (code, signal) => {
      this.exited = true
      const e = new Error(`the app host exited (${signal ?? code}): ${this.stderr.slice(-500)}`)
      readyReject(e)
      for (const p of this.pending.values()) p.reject(e)
      this.pending.clear()
    })
  }

  get pid(): number {
    return this.child.pid!
  }

  request(type: number, meta: unknown, payload?: Buffer): Promise<Frame> {
    if (this.exited) return Promise.reject(new Error('the app host is gone'))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.socket.write(encodeFrame(type, id, meta, payload))
    })
  }

  async stop(): Promise<void> {
    if (this.exited) return
    const gone = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGKILL')
    await gone
  }
}
