// Network for a container function that com.kindling.outbound grants it (issue 13 item 1). The
// container keeps its private, loopback-only network namespace: no veth, no route out. Inside it
// the forwarder (forwarder.mjs, mode egress, started with nsenter like the HTTP-mode one) listens
// on 127.0.0.1:EGRESS_PORT and pipes each connection to a Unix socket in the sandbox folder (a path
// the container cannot see), where this sandbox's EgressProxy listens in the host's namespace
// and applies the allow-list. HTTP_PROXY and friends point the function's clients at it.
// Without the annotation none of this exists and nothing changes.
import path from 'node:path'
import { hostEnvironment } from '../apphost/host-process.js'
import type { ChildLike } from '../spawner/launcher.js'
import type { FunctionArtifact, TierSettings } from '../tier.js'
import { DEFAULT_MAX_RESPONSE_BYTES } from '../wasm/host/outbound.js'
import { DEFAULT_MAX_REQUEST_BYTES } from '../wasm/host/outbound-fetch.js'
import { OUTBOUND_ANNOTATION, type OutboundPattern, parseOutbound } from '../wasm/host/outbound-grants.js'
import { BUSY_RESPONSE, EgressProxy } from './egress-proxy.js'
import type { TierServices } from './plan.js'
import type { WatchdogSettings } from './watchdog.js'

/** the proxy's port inside the container (squid's); 3129 when the function's own server uses it */
export const EGRESS_PORT = 3128

export interface EgressPlan {
  patterns: OutboundPattern[]
  maxResponseBytes: number
  maxRequestBytes: number
  /** where the forwarder listens inside the container */
  port: number
}

/** The egress part of a plan, or undefined when the function has no grant (loopback only). */
export function egressPlan(artifact: FunctionArtifact, watchdog: WatchdogSettings, settings: TierSettings): EgressPlan | undefined {
  const patterns = parseOutbound(artifact.annotations[OUTBOUND_ANNOTATION])
  if (!patterns.length) return undefined
  const taken = watchdog.mode === 'http' && watchdog.upstream.kind === 'tcp' ? watchdog.upstream.port : undefined
  return { patterns, maxResponseBytes: settings.outboundMaxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, maxRequestBytes: settings.outboundMaxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES, port: taken === EGRESS_PORT ? EGRESS_PORT + 1 : EGRESS_PORT }
}

/** The variables that send the function's HTTP clients through the proxy (curl, wget, Go, Python take either case). */
export function egressEnv(plan: EgressPlan): string[] {
  const url = `http://127.0.0.1:${plan.port}`
  return [`HTTP_PROXY=${url}`, `HTTPS_PROXY=${url}`, `http_proxy=${url}`, `https_proxy=${url}`, 'NO_PROXY=localhost,127.0.0.1', 'no_proxy=localhost,127.0.0.1']
}

/** One sandbox's proxy, its forwarder, and the calls whose deadlines bound what goes out. */
export class SandboxEgress {
  private readonly proxy: EgressProxy
  private forwarder: ChildLike | undefined
  private readonly calls = new Map<number, number>()
  private nextCall = 0
  private closed = false

  constructor(
    private readonly svc: TierServices,
    private readonly plan: EgressPlan,
    private readonly socketPath: string,
    private readonly log: (text: string) => void,
  ) {
    this.proxy = new EgressProxy({ patterns: plan.patterns, maxResponseBytes: plan.maxResponseBytes, maxRequestBytes: plan.maxRequestBytes, deadline: () => this.deadline() }, log)
  }

  /** the latest deadline of the calls in flight; undefined when there is none */
  private deadline(): number | undefined {
    let d: number | undefined
    for (const v of this.calls.values()) d = d === undefined ? v : Math.max(d, v)
    return d
  }

  /** Listens, then starts the forwarder in the network namespace of `pid`; resolves once it accepts. */
  async start(pid: number, timeoutMs: number): Promise<void> {
    await this.proxy.listen(this.socketPath)
    const fwd = this.svc.runtime.spawnHelper(
      'nsenter',
      [`--net=/proc/${pid}/ns/net`, '--', process.execPath, this.svc.forwarderScript, this.socketPath, '127.0.0.1', String(this.plan.port), this.svc.naming.idPrefix, 'egress', Buffer.from(BUSY_RESPONSE).toString('base64')],
      hostEnvironment(),
    )
    this.forwarder = fwd
    fwd.stdin!.on('error', () => {})
    let why = ''
    fwd.stderr!.on('data', (d: Buffer) => (why += d.toString()))
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs))
      let buf = ''
      fwd.stdout!.on('data', (d: Buffer) => {
        buf += d.toString()
        if (buf.includes('ready')) (clearTimeout(timer), resolve(true))
      })
      fwd.on('exit', () => (clearTimeout(timer), resolve(false)))
    })
    if (!ready || this.closed) throw new Error(`the egress forwarder did not start on 127.0.0.1:${this.plan.port} in the container${why ? `: ${why.trim()}` : ''}`)
    fwd.stderr!.on('data', (d: Buffer) => this.log(`egress forwarder: ${d.toString().trim()}`))
  }

  /** A call starts: the proxy lets requests out until `deadline`. Returns its end, which ends every tunnel once no call is left. */
  beginCall(deadline: number): () => void {
    const id = this.nextCall++
    this.calls.set(id, deadline)
    return () => {
      this.calls.delete(id)
      if (this.calls.size === 0) this.proxy.endAll()
    }
  }

  /** Stops the forwarder and the proxy, ending every tunnel (the sandbox is reset or destroyed). */
  close(): void {
    this.closed = true
    this.calls.clear()
    this.proxy.close()
    if (this.forwarder) {
      this.forwarder.stdin?.end()
      this.forwarder.kill('SIGKILL')
    }
  }
}

/** The proxy's socket: in the sandbox folder, never bound into the container. */
export function egressSocketPath(sandboxDir: string, shortRoot: string, shortName: string): string {
  const p = path.join(sandboxDir, 'egress.sock')
  return p.length < 100 ? p : path.join(shortRoot, `${shortName}.egress.sock`)
}
