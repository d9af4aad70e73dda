// Splits a byte stream into log lines for TierContext.log, keeping a partial last line until more
// arrives, and cutting very long lines so one chatty function cannot hold unbounded memory.
export class LineSplitter {
  private pending = ''

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxLine = 16 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    this.pending += chunk.toString()
    let i: number
    while ((i = this.pending.indexOf('\n')) >= 0) {
      this.emit(this.pending.slice(0, i).replace(/\r$/, ''))
      this.pending = this.pending.slice(i + 1)
    }
    while (this.pending.length > this.maxLine) {
      this.emit(this.pending.slice(0, this.maxLine))
      this.pending = this.pending.slice(this.maxLine)
    }
  }

  flush(): void {
    if (this.pending) this.emit(this.pending)
    this.pending = ''
  }
}

/** Collects bytes up to a cap; reports when the cap was passed. */
export class CappedBuffer {
  private chunks: Buffer[] = []
  length = 0
  overflowed = false

  constructor(private readonly cap: number) {}

  push(b: Buffer): void {
    if (this.length + b.length > this.cap) {
      this.overflowed = true
      const room = this.cap - this.length
      if (room > 0) this.chunks.push(b.subarray(0, room))
      this.length = this.cap
      return
    }
    this.chunks.push(b)
    this.length += b.length
  }

  toBuffer(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
  }
}
