// wasi:io 0.2 (error, poll, streams) over memory. A request body is all there before the call
// starts and everything a component writes is collected, so every stream is ready at once; only
// clock pollables wait, by sleeping the thread, and never past the call's deadline.
import { DeadlineError, type OutputBuffer } from '../../wasm/wasi.js'

/** A `result` as jco's bindings pass it to the host (a parameter, a nested value). */
export type Result<T, E> = { tag: 'ok'; val: T } | { tag: 'err'; val: E }
export const ok = <T>(val: T): Result<T, never> => ({ tag: 'ok', val })

/**
 * The `err` case of a host function's result: jco's bindings (every version) take a returned value
 * as `ok` and a thrown object with an own `payload` as `err`; any other exception traps the guest.
 */
export class WitError {
  constructor(readonly payload: unknown) {}
}
export function fail(payload: unknown): never {
  throw new WitError(payload)
}

/** What the host needs to know about the call in progress. */
export interface CallClock {
  /** Date.now() based */
  readonly deadline: number
  /** set when the call is over: what belonged to it (its request, its streams) is closed */
  ended?: boolean
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Sleeps until the monotonic time `untilNs`, or throws at the call's deadline. */
export function sleepUntil(untilNs: bigint, clock: CallClock): void {
  const ms = Number(untilNs - process.hrtime.bigint()) / 1e6
  if (ms <= 0) return
  const left = clock.deadline - Date.now()
  if (ms >= left) {
    if (left > 0) Atomics.wait(sleeper, 0, 0, left)
    throw new DeadlineError()
  }
  Atomics.wait(sleeper, 0, 0, Math.ceil(ms))
}

export class IoError {
  constructor(private readonly message: string) {}
  toDebugString(): string {
    return this.message
  }
}

export type StreamError = { tag: 'closed' } | { tag: 'last-operation-failed'; val: IoError }
const closed = (): never => fail({ tag: 'closed' } satisfies StreamError)

/** Ready at once (readyAtNs 0) or at a monotonic time. */
export class Pollable {
  constructor(
    private readonly clock: CallClock,
    private readonly readyAtNs = 0n,
  ) {}

  ready(): boolean {
    return this.readyAtNs === 0n || process.hrtime.bigint() >= this.readyAtNs
  }

  block(): void {
    if (this.readyAtNs) sleepUntil(this.readyAtNs, this.clock)
  }

  get at(): bigint {
    return this.readyAtNs
  }
}

/** wasi:io/poll.poll: the indexes of ready pollables, waiting for the first one if none is. */
export function poll(list: Pollable[]): Uint32Array {
  if (list.length === 0) throw new Error('poll of an empty list')
  let ready = list.flatMap((p, i) => (p.ready() ? [i] : []))
  if (ready.length === 0) {
    const first = list.reduce((a, b) => (b.at < a.at ? b : a))
    first.block()
    ready = list.flatMap((p, i) => (p.ready() ? [i] : []))
  }
  return Uint32Array.from(ready)
}

/** A stream over bytes that are all known up front (a request body, an empty stdin). */
export class InputStream {
  private offset = 0

  constructor(
    private readonly clock: CallClock,
    private readonly bytes: Uint8Array,
  ) {}

  read(len: bigint): Uint8Array {
    // a stream kept by an instance (reuse mode) does not reach into its call's request later
    if (this.clock.ended || this.offset >= this.bytes.length) closed()
    const n = Math.min(Number(len), this.bytes.length - this.offset)
    const out = this.bytes.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }

  blockingRead(len: bigint): Uint8Array {
    return this.read(len)
  }

  skip(len: bigint): bigint {
    return BigInt(this.read(len).length)
  }

  blockingSkip(len: bigint): bigint {
    return this.skip(len)
  }

  subscribe(): Pollable {
    return new Pollable(this.clock)
  }
}

/** How much a writer may write before it has to check again. */
const WRITE_BUDGET = 1n << 20n

/**
 * A stream into an OutputBuffer (a response body, the component's logs); its limit traps the guest.
 * Clock and sink are fixed (a response body: closed once its call ended) or looked up at each use
 * (stdout and stderr, which an instance may keep between calls: they write to the current call).
 */
export class OutputStream {
  closed = false

  constructor(
    private readonly clockOf: CallClock | (() => CallClock),
    private readonly sinkOf: OutputBuffer | (() => OutputBuffer),
  ) {}

  private get clock(): CallClock {
    return typeof this.clockOf === 'function' ? this.clockOf() : this.clockOf
  }

  private get sink(): OutputBuffer {
    return typeof this.sinkOf === 'function' ? this.sinkOf() : this.sinkOf
  }

  checkWrite(): bigint {
    if (this.closed || this.clock.ended) closed()
    return WRITE_BUDGET
  }

  write(contents: Uint8Array): void {
    if (this.closed || this.clock.ended) closed()
    if (contents.length) this.sink.push(contents)
  }

  blockingWriteAndFlush(contents: Uint8Array): void {
    this.write(contents)
  }

  flush(): void {
    if (this.closed) closed()
  }

  blockingFlush(): void {
    this.flush()
  }

  writeZeroes(len: bigint): void {
    if (len > WRITE_BUDGET) throw new Error('write-zeroes of more bytes than check-write allowed')
    this.write(new Uint8Array(Number(len)))
  }

  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len)
  }

  splice(src: InputStream, len: bigint): bigint {
    if (this.closed || this.clock.ended) closed()
    const bytes = src.read(len)
    this.sink.push(bytes)
    return BigInt(bytes.length)
  }

  blockingSplice(src: InputStream, len: bigint): bigint {
    return this.splice(src, len)
  }

  subscribe(): Pollable {
    return new Pollable(this.clock)
  }
}
