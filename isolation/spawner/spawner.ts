// The gateway's side of the spawner process (spawner-main.ts): children started there appear here
// as child-like objects whose streams and events are relayed by message.
import { type ChildProcess, fork } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { PassThrough, Writable } from 'node:stream'
import { hostEnvironment } from '../apphost/host-process.js'
import { siblingModule } from '../entry.js'
import { type ChildLike, type CommandResult, type LaunchOptions, type Launcher, runWith } from './launcher.js'
import type { FromSpawner, LastRites, ToSpawner } from './protocol.js'

class RemoteChild extends EventEmitter implements ChildLike {
  pid: number | undefined
  readonly stdin: Writable | null
  readonly stdio: (PassThrough | Writable | null)[]
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  private openOutputs: number
  private exited = false

  constructor(private readonly spawner: Spawner, readonly id: number, outputs: number, withStdin: boolean) {
    super()
    this.stdin = withStdin
      ? new Writable({
          write: (chunk: Buffer, _enc, cb) => {
            spawner.post({ op: 'write', id, data: chunk })
            cb()
          },
          final: (cb) => {
            spawner.post({ op: 'end', id })
            cb()
          },
        })
      : null
    this.stdio = [this.stdin, ...Array.from({ length: outputs }, () => new PassThrough())]
    this.openOutputs = outputs
  }

  get stdout(): PassThrough | null {
    return (this.stdio[1] as PassThrough | undefined) ?? null
  }

  get stderr(): PassThrough | null {
    return (this.stdio[2] as PassThrough | undefined) ?? null
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exited) return false
    this.spawner.post({ op: 'kill', id: this.id, signal })
    return true
  }

  /** a message about this child from the spawner */
  handle(m: FromSpawner): void {
    switch (m.op) {
      case 'spawned':
        this.pid = m.pid
        this.emit('spawn')
        return
      case 'data':
        ;(this.stdio[m.fd] as PassThrough | undefined)?.write(m.data)
        return
      case 'closed':
        ;(this.stdio[m.fd] as PassThrough | undefined)?.end()
        this.openOutputs--
        this.maybeClose()
        return
      case 'exit':
        this.exited = true
        this.exitCode = m.code
        this.signalCode = m.signal
        this.emit('exit', m.code, m.signal)
        this.maybeClose()
        return
      case 'error':
        this.emit('error', new Error(m.message))
        this.fail()
        return
    }
  }

  /** the spawner died or the child could not start: end everything as a killed child would */
  fail(): void {
    for (const s of this.stdio.slice(1)) (s as PassThrough | null)?.end()
    this.openOutputs = 0
    if (!this.exited) {
      this.exited = true
      this.signalCode = 'SIGKILL'
      this.emit('exit', null, 'SIGKILL')
    }
    this.maybeClose()
  }

  private closed = false
  private maybeClose(): void {
    if (this.closed || !this.exited || this.openOutputs > 0) return
    this.closed = true
    this.spawner.forget(this.id)
    // as ChildProcess does: after the streams are done
    setImmediate(() => this.emit('close', this.exitCode, this.signalCode))
  }
}

/** Starts children through a small helper process, so the caller's event loop never pays a fork. */
export class Spawner implements Launcher {
  private proc: ChildProcess | undefined
  private readonly children = new Map<number, RemoteChild>()
  /** what the spawner must undo if this process dies; sent again to a new spawner */
  private readonly guards = new Map<string, LastRites>()
  private nextId = 1
  private closed = false

  private ensure(): ChildProcess {
    if (this.proc?.connected) return this.proc
    const entry = siblingModule(import.meta.url, 'spawner-main')
    const proc = fork(entry.path, [], { execArgv: entry.execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: hostEnvironment() })
    proc.on('message', (m: FromSpawner) => this.children.get(m.id)?.handle(m))
    proc.on('exit', () => {
      if (this.proc === proc) this.proc = undefined
      // whatever it was relaying is gone with it
      for (const c of [...this.children.values()]) c.fail()
    })
    proc.on('error', () => {})
    this.proc = proc
    for (const [key, rites] of this.guards) proc.send({ op: 'guard', key, rites } satisfies ToSpawner)
    return proc
  }

  /** Starts the spawner ahead, while the caller's own process is still small. */
  warm(): void {
    if (!this.closed) this.ensure()
  }

  post(m: ToSpawner): void {
    const p = this.ensure()
    p.send(m)
  }

  /** Registers what the spawner undoes should this process die before `unguard(key)`. */
  guard(key: string, rites: LastRites): void {
    if (this.closed) return
    this.guards.set(key, rites)
    this.post({ op: 'guard', key, rites })
  }

  unguard(key: string): void {
    if (!this.guards.delete(key)) return
    if (this.proc?.connected) this.proc.send({ op: 'unguard', key } satisfies ToSpawner)
  }

  forget(id: number): void {
    this.children.delete(id)
  }

  spawn(cmd: string, args: string[], opts: LaunchOptions): ChildLike {
    if (this.closed) throw new Error('the spawner is closed')
    const id = this.nextId++
    const child = new RemoteChild(this, id, opts.outputs, opts.stdin === 'pipe')
    this.children.set(id, child)
    this.post({ op: 'spawn', id, cmd, args, stdin: opts.stdin, outputs: opts.outputs, env: opts.env as Record<string, string> | undefined })
    return child
  }

  run(cmd: string, args: string[], opts?: { input?: string | Buffer; timeoutMs?: number }): Promise<CommandResult> {
    return runWith(this, cmd, args, opts)
  }

  close(): void {
    this.closed = true
    this.proc?.disconnect()
    this.proc = undefined
  }
}
