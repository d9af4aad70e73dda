// Byte-level reading and writing of the WebAssembly binary format (LEB128 and friends).

export class WasmFormatError extends Error {
  constructor(message: string, readonly offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`)
    this.name = 'WasmFormatError'
  }
}

export class Reader {
  pos: number
  constructor(readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.pos = start
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError('unexpected end of module', this.pos)
    return this.buf[this.pos++]!
  }

  peek(): number {
    if (this.pos >= this.end) throw new WasmFormatError('unexpected end of module', this.pos)
    return this.buf[this.pos]!
  }

  bytes(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.end) throw new WasmFormatError('unexpected end of module', this.pos)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new WasmFormatError('unexpected end of module', this.pos)
    this.pos += n
  }

  /** unsigned LEB128 up to 32 bits */
  u32(): number {
    let result = 0
    let shift = 0
    for (;;) {
      const b = this.byte()
      if (shift === 28 && b > 0x0f) throw new WasmFormatError('u32 out of range', this.pos - 1)
      result |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) return result >>> 0
      shift += 7
      if (shift > 28) throw new WasmFormatError('u32 too long', this.pos)
    }
  }

  /** skips a signed or unsigned LEB128 of any width */
  skipLeb(): void {
    for (let i = 0; i < 10; i++) {
      if ((this.byte() & 0x80) === 0) return
    }
    throw new WasmFormatError('LEB128 too long', this.pos)
  }

  /** signed LEB128 up to 33 bits (block types) */
  s33(): number {
    let result = 0
    let shift = 0
    let b: number
    do {
      b = this.byte()
      result += (b & 0x7f) * 2 ** shift
      shift += 7
      if (shift > 35) throw new WasmFormatError('s33 too long', this.pos)
    } while (b & 0x80)
    if (shift < 64 && b & 0x40) result -= 2 ** shift
    return result
  }

  name(): string {
    const n = this.u32()
    return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes(n))
  }
}

/** A growable byte buffer. */
export class Writer {
  private buf = new Uint8Array(256)
  length = 0

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }

  byte(b: number): this {
    this.ensure(1)
    this.buf[this.length++] = b
    return this
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
    return this
  }

  u32(v: number): this {
    let n = v >>> 0
    do {
      let b = n & 0x7f
      n >>>= 7
      if (n !== 0) b |= 0x80
      this.byte(b)
    } while (n !== 0)
    return this
  }

  s32(v: number): this {
    let n = v | 0
    for (;;) {
      const b = n & 0x7f
      n >>= 7
      if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
        this.byte(b)
        return this
      }
      this.byte(b | 0x80)
    }
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s)
    return this.u32(b.length).bytes(b)
  }

  /** a vector of already-encoded items */
  vec(items: Uint8Array[]): this {
    this.u32(items.length)
    for (const it of items) this.bytes(it)
    return this
  }

  finish(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length)
  }
}

export function encodeU32(v: number): Uint8Array {
  return new Writer().u32(v).finish()
}
