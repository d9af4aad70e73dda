// Delivery slots shared fairly between callback hosts (origins): at most `perOrigin` POSTs under way
// to one and `total` in all; what waits is kept per origin, first in first out, and the origins take
// turns. So a host that never answers holds its own few slots and nobody else's.

interface Waiting {
  ids: string[]
  head: number
}

export class FairSlots {
  private readonly waiting = new Map<string, Waiting>()
  private readonly busyBy = new Map<string, number>()
  private busyTotal = 0
  private waitingTotal = 0

  constructor(private readonly total: number, private readonly perOrigin: number) {}

  get busy(): number {
    return this.busyTotal
  }

  get queued(): number {
    return this.waitingTotal
  }

  /** Whether a call for `origin` may start now without passing anyone who waits. */
  tryStart(origin: string): boolean {
    if (this.busyTotal >= this.total || (this.busyBy.get(origin) ?? 0) >= this.perOrigin || this.waiting.has(origin)) return false
    this.take(origin)
    return true
  }

  enqueue(origin: string, id: string): void {
    let w = this.waiting.get(origin)
    if (!w) this.waiting.set(origin, (w = { ids: [], head: 0 }))
    w.ids.push(id)
    this.waitingTotal++
  }

  end(origin: string): void {
    const n = (this.busyBy.get(origin) ?? 1) - 1
    if (n > 0) this.busyBy.set(origin, n)
    else this.busyBy.delete(origin)
    this.busyTotal--
  }

  /** Takes the ids that may start now, one origin after the other; each taken id holds a slot until end(). */
  takeReady(): { origin: string; id: string }[] {
    const out: { origin: string; id: string }[] = []
    for (let progress = true; progress && this.busyTotal < this.total;) {
      progress = false
      for (const [origin, w] of [...this.waiting]) {
        if (this.busyTotal >= this.total) break
        if ((this.busyBy.get(origin) ?? 0) >= this.perOrigin) continue
        const id = w.ids[w.head++]!
        this.waitingTotal--
        this.take(origin)
        out.push({ origin, id })
        progress = true
        // to the back of the line: the next turn goes to the other origins first
        this.waiting.delete(origin)
        if (w.head < w.ids.length) {
          if (w.head > 1024 && w.head * 2 > w.ids.length) {
            w.ids = w.ids.slice(w.head)
            w.head = 0
          }
          this.waiting.set(origin, w)
        }
      }
    }
    return out
  }

  private take(origin: string): void {
    this.busyBy.set(origin, (this.busyBy.get(origin) ?? 0) + 1)
    this.busyTotal++
  }
}
