// The one NATS connection of a cluster node: connects at start (failing with an error that names the
// URL, not a stack trace), then reconnects for ever, and keeps a status that /healthz and
// /system/info report. Everything else in runtime/cluster/ takes the connection from here.
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { KindlingError } from '../errors.js'

export interface ClusterLink {
  readonly nc: NatsConnection
  /** false while the connection is down (the client is reconnecting) */
  connected(): boolean
  /** the last disconnect or error, for /healthz */
  lastProblem(): string | undefined
  /** runs fn on every change of connected() */
  onChange(fn: (connected: boolean) => void): void
  close(): Promise<void>
}

/** comma-separated nats:// URLs, as KINDLING_NATS_URL holds them */
export function natsServers(url: string): string[] {
  return url.split(',').map((s) => s.trim()).filter(Boolean)
}

export async function connectCluster(url: string, opts: { name: string; timeoutMs: number }): Promise<ClusterLink> {
  const servers = natsServers(url)
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+$/.test(s) && !/^[^\s/:]+:\d+$/.test(s)) {
      throw new KindlingError('KINDLING_ERR_CLUSTER_UNAVAILABLE', `KINDLING_NATS_URL=${url}: ${s} is not a NATS URL (nats://HOST:PORT)`)
    }
  }
  let nc: NatsConnection
  try {
    nc = await connect({
      servers,
      name: opts.name,
      timeout: opts.timeoutMs,
      // after the first connection: keep trying for ever, a node outlives a NATS restart
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
    })
  } catch (e) {
    throw new KindlingError('KINDLING_ERR_CLUSTER_UNAVAILABLE', `cannot connect to NATS at ${url}: ${(e as Error).message}`)
  }
  let up = true
  let problem: string | undefined
  const listeners: ((c: boolean) => void)[] = []
  const set = (c: boolean) => {
    if (c === up) return
    up = c
    for (const fn of listeners) fn(c)
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') {
        problem = `${s.type} ${new Date().toISOString()}`
        set(false)
      } else if (s.type === 'reconnect') set(true)
      else if (s.type === 'error') problem = String((s as { error?: unknown }).error ?? s.type)
    }
  })().catch(() => {})
  return {
    nc,
    connected: () => up && !nc.isClosed(),
    lastProblem: () => problem,
    onChange: (fn) => void listeners.push(fn),
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close())
    },
  }
}
