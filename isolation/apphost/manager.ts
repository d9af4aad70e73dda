// One app host process per application, plus spare hosts started ahead of time so that a new
// application (or the replacement of a crashed host) does not wait for a Node start on its
// critical path, as SOCK's zygotes avoid re-initialising a runtime.
import { EventEmitter } from 'node:events'
import { HostProcess, type HostProcessOptions } from './host-process.js'
import { FRAME } from './protocol.js'

export interface AppHostManagerOptions extends HostProcessOptions {
  spares: number
}

export interface HostExit {
  app: string
  host: HostProcess
  reason: string
}

export class AppHostManager extends EventEmitter {
  private readonly hosts = new Map<string, HostProcess>()
  private readonly spares: HostProcess[] = []
  /** the functions (of any tier) deployed in each application; its host lives while one is left */
  private readonly members = new Map<string, Set<string>>()
  /** per host: the functions loaded (or loading) there */
  private readonly loads = new WeakMap<HostProcess, Map<string, Promise<void>>>()
  private closed = false
  /** app hosts that died unexpectedly */
  restarts = 0

  constructor(private readonly opts: AppHostManagerOptions) {
    super()
    this.fillSpares()
  }

  private startHost(): HostProcess {
    const host = new HostProcess(this.opts)
    host.once('exit', (reason: string) => this.onExit(host, reason))
    return host
  }

  private fillSpares(): void {
    while (!this.closed && this.spares.filter((h) => h.alive).length < this.opts.spares) this.spares.push(this.startHost())
  }

  private onExit(host: HostProcess, reason: string): void {
    const spareAt = this.spares.indexOf(host)
    if (spareAt >= 0) this.spares.splice(spareAt, 1)
    for (const [app, h] of this.hosts) {
      if (h !== host) continue
      this.hosts.delete(app)
      if (!this.closed && reason !== 'stopped') this.restarts++
      this.emit('host-exit', { app, host, reason } satisfies HostExit)
    }
    if (!this.closed) setImmediate(() => this.fillSpares())
  }

  /** The live host of an application, starting one (from a spare when there is one). */
  async acquire(app: string): Promise<HostProcess> {
    if (this.closed) throw new Error('app host manager is closed')
    let host = this.hosts.get(app)
    if (!host || !host.alive) {
      const spare = this.spares.shift()
      host = spare?.alive ? spare : this.startHost()
      this.hosts.set(app, host)
      setImmediate(() => this.fillSpares())
    }
    await host.ready
    return host
  }

  /** The application's live host with the function loaded in it (one LOAD per host and function). */
  async hostWith(app: string, fnId: string, load: object): Promise<HostProcess> {
    const host = await this.acquire(app)
    let loads = this.loads.get(host)
    if (!loads) this.loads.set(host, (loads = new Map()))
    let done = loads.get(fnId)
    if (!done) {
      done = host.request(FRAME.LOAD, { fnId, ...load }).then(() => undefined)
      done.catch(() => loads!.delete(fnId))
      loads.set(fnId, done)
    }
    await done
    return host
  }

  running(app: string): HostProcess | undefined {
    const h = this.hosts.get(app)
    return h?.alive ? h : undefined
  }

  apps(): string[] {
    return [...this.hosts.keys()]
  }

  /**
   * A function of `app` was prepared. Tiers join at prepare, before an update retires the old
   * version, so replacing a version never leaves the application empty for a moment.
   */
  join(app: string, fnId: string): void {
    let m = this.members.get(app)
    if (!m) this.members.set(app, (m = new Set()))
    m.add(fnId)
  }

  /** A function of `app` was released: unloaded from the host, which stops with the app's last one. */
  async leave(app: string, fnId: string): Promise<void> {
    const host = this.running(app)
    if (host && this.loads.get(host)?.delete(fnId)) await host.request(FRAME.UNLOAD, { fnId }).catch(() => {})
    const m = this.members.get(app)
    if (!m?.delete(fnId) || m.size > 0) return
    this.members.delete(app)
    const h = this.hosts.get(app)
    this.hosts.delete(app)
    await h?.stop()
  }

  async close(): Promise<void> {
    this.closed = true
    const all = [...this.hosts.values(), ...this.spares]
    this.hosts.clear()
    this.spares.length = 0
    await Promise.all(all.map((h) => h.stop()))
  }
}
