// Function logs: what functions write to stderr/stdout and kindling's own messages about them, kept
// in a bounded ring per function for GET /system/logs, with live followers.
import type { FunctionLogEntry } from '../isolation/tier.js'

export interface LogMessage {
  name: string
  namespace: string
  instance: string
  timestamp: string
  text: string
  stream: FunctionLogEntry['stream']
}

type Follower = (m: LogMessage) => void

export class LogHub {
  private readonly rings = new Map<string, LogMessage[]>()
  private readonly followers = new Map<string, Set<Follower>>()

  constructor(private readonly perFunction = 2000) {}

  write(entry: FunctionLogEntry): void {
    const dot = entry.key.lastIndexOf('.')
    const base = { name: dot < 0 ? entry.key : entry.key.slice(0, dot), namespace: dot < 0 ? '' : entry.key.slice(dot + 1), instance: entry.instance, stream: entry.stream }
    const ts = new Date().toISOString()
    for (const line of entry.text.split('\n')) {
      if (line === '') continue
      const m: LogMessage = { ...base, timestamp: ts, text: line }
      let ring = this.rings.get(entry.key)
      if (!ring) this.rings.set(entry.key, (ring = []))
      ring.push(m)
      if (ring.length > this.perFunction) ring.splice(0, ring.length - this.perFunction)
      for (const f of this.followers.get(entry.key) ?? []) f(m)
    }
  }

  /** Messages of a function, oldest first; since filters by time, tail keeps the last n (n <= 0: all). */
  read(key: string, opts: { since?: Date; tail?: number } = {}): LogMessage[] {
    let out = this.rings.get(key) ?? []
    if (opts.since) {
      const t = opts.since.toISOString()
      out = out.filter((m) => m.timestamp >= t)
    }
    if (opts.tail !== undefined && opts.tail > 0) out = out.slice(-opts.tail)
    return [...out]
  }

  follow(key: string, f: Follower): () => void {
    let set = this.followers.get(key)
    if (!set) this.followers.set(key, (set = new Set()))
    set.add(f)
    return () => set!.delete(f)
  }

  forget(key: string): void {
    this.rings.delete(key)
  }
}
