// Function logs: what functions write to stderr/stdout and kindling's own messages about them, kept
// in a bounded ring per function for GET /system/logs, with live followers. With a journal, the
// rings are reloaded from the data dir at start and every message is appended there in batches.
import type { FunctionLogEntry } from '../isolation/tier.js'
import type { LogJournal } from './log-journal.js'

export interface LogMessage {
  name: string
  namespace: string
  instance: string
  timestamp: string
  text: string
  stream: FunctionLogEntry['stream']
}

type Follower = (m: LogMessage) => void

/** A fixed-size ring: push is O(1), the oldest message falls out. */
class Ring {
  private readonly buf: LogMessage[] = []
  private head = 0

  constructor(private readonly cap: number) {}

  push(m: LogMessage): void {
    if (this.buf.length < this.cap) this.buf.push(m)
    else {
      this.buf[this.head] = m
      this.head = (this.head + 1) % this.cap
    }
  }

  /** oldest first */
  toArray(): LogMessage[] {
    return this.head === 0 ? this.buf.slice() : [...this.buf.slice(this.head), ...this.buf.slice(0, this.head)]
  }

  get length(): number {
    return this.buf.length
  }
}

export class LogHub {
  private readonly rings = new Map<string, Ring>()
  private readonly followers = new Map<string, Set<Follower>>()

  constructor(private readonly perFunction = 2000, private readonly journal?: LogJournal) {
    if (journal) for (const r of journal.load()) this.ring(r.key).push({ name: r.name, namespace: r.namespace, instance: r.instance, timestamp: r.timestamp, text: r.text, stream: r.stream })
  }

  private ring(key: string): Ring {
    let ring = this.rings.get(key)
    if (!ring) this.rings.set(key, (ring = new Ring(this.perFunction)))
    return ring
  }

  write(entry: FunctionLogEntry): void {
    const dot = entry.key.lastIndexOf('.')
    const name = dot < 0 ? entry.key : entry.key.slice(0, dot)
    const namespace = dot < 0 ? '' : entry.key.slice(dot + 1)
    const ts = new Date().toISOString()
    const ring = this.ring(entry.key)
    const followers = this.followers.get(entry.key)
    for (const line of entry.text.split('\n')) {
      if (line === '') continue
      const m: LogMessage = { name, namespace, instance: entry.instance, stream: entry.stream, timestamp: ts, text: line }
      ring.push(m)
      this.journal?.append({ ...m, key: entry.key })
      if (followers) for (const f of followers) f(m)
    }
  }

  /** Messages of a function, oldest first; since filters by time, tail keeps the last n (n <= 0: all). */
  read(key: string, opts: { since?: Date; tail?: number } = {}): LogMessage[] {
    let out = this.rings.get(key)?.toArray() ?? []
    if (opts.since) {
      const t = opts.since.toISOString()
      out = out.filter((m) => m.timestamp >= t)
    }
    if (opts.tail !== undefined && opts.tail > 0) out = out.slice(-opts.tail)
    return out
  }

  has(key: string): boolean {
    return (this.rings.get(key)?.length ?? 0) > 0
  }

  follow(key: string, f: Follower): () => void {
    let set = this.followers.get(key)
    if (!set) this.followers.set(key, (set = new Set()))
    set.add(f)
    return () => {
      set!.delete(f)
      if (set!.size === 0 && this.followers.get(key) === set) this.followers.delete(key)
    }
  }

  /** live followers of a function (tests check that a closed stream stops following) */
  followerCount(key: string): number {
    return this.followers.get(key)?.size ?? 0
  }

  forget(key: string): void {
    this.rings.delete(key)
  }

  async close(): Promise<void> {
    await this.journal?.close()
  }
}
