// Keeps slow clients from taking the gateway's sockets (issue 18): time limits on headers and whole
// requests, a connection limit that fits the process's open-file limit, and, near that limit, the
// connections with no complete request (trickling headers or a body, or idle keep-alive) closed
// oldest first, so that a client with a whole request still gets in.
import fs from 'node:fs'
import type http from 'node:http'
import type { Socket } from 'node:net'

export interface ConnectionSettings {
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
  /** most open client connections (already resolved against the open-file limit) */
  maxConnections: number
}

/** The soft and hard RLIMIT_NOFILE of this process (Node raises the soft one to the hard one at start). */
export function openFileLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const m = line && /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line)
    if (!m) return undefined
    const n = (s: string) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s))
    return { soft: n(m[1]!), hard: n(m[2]!) }
  } catch {
    return undefined
  }
}

/**
 * The connection limit to use: the configured one (0 = automatic), never more than three quarters
 * of the open-file limit, which leaves the rest for sandboxes, app hosts, the database and logs.
 */
export function resolveMaxConnections(configured: number, fdSoftLimit: number | undefined): { max: number; note?: string } {
  const safe = fdSoftLimit === undefined ? 4096 : Math.max(16, Math.floor(fdSoftLimit * 0.75))
  if (configured === 0) return { max: safe }
  if (configured <= safe) return { max: configured }
  return { max: safe, note: `KINDLING_MAX_CONNECTIONS=${configured} is lowered to ${safe}: the open-file limit is ${fdSoftLimit}` }
}

/** Options for http.createServer: the limits, checked often enough to matter. */
export function httpServerOptions(s: ConnectionSettings): http.ServerOptions {
  return {
    headersTimeout: s.headersTimeoutMs,
    // Node requires requestTimeout >= headersTimeout (0 would turn it off)
    requestTimeout: Math.max(s.requestTimeoutMs, s.headersTimeoutMs),
    keepAliveTimeout: s.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(s.headersTimeoutMs / 4))),
  }
}

interface Tracked {
  /** when the connection opened or its last request ended */
  since: number
  req: http.IncomingMessage | undefined
}

/** Installs the connection limit and eviction under pressure on a listening-to-be server. */
export function guardConnections(server: http.Server, s: ConnectionSettings): void {
  const max = s.maxConnections
  server.maxConnections = max
  // eviction starts this far below the hard limit, so that a new connection still finds room
  const evictAt = max - Math.max(1, Math.min(64, Math.floor(max / 16)))
  const graceMs = Math.min(1000, Math.floor(s.headersTimeoutMs / 4))
  const open = new Map<Socket, Tracked>()

  const evict = (now: number) => {
    let excess = open.size - evictAt + 1
    for (const [sock, t] of open) {
      if (excess <= 0) break
      if (now - t.since < graceMs || (t.req && t.req.complete)) continue
      open.delete(sock)
      sock.destroy()
      excess--
    }
  }

  server.on('connection', (sock: Socket) => {
    open.set(sock, { since: Date.now(), req: undefined })
    sock.once('close', () => open.delete(sock))
    if (open.size >= evictAt) evict(Date.now())
  })
  // past the hard limit Node closes the new connection itself: make room for the next one
  server.on('drop', () => evict(Date.now()))
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t = open.get(req.socket)
    if (!t) return
    t.req = req
    res.once('close', () => {
      t.req = undefined
      t.since = Date.now()
    })
  })
}
