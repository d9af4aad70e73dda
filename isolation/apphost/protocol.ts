// The wire format between the gateway and an app host process: length-prefixed binary frames on a
// socketpair (fd 3 of the child). Node's built-in IPC serialises everything as JSON; these frames
// carry bodies as raw bytes and let many frames go out in one write under load.
//
//   u32 length of the rest | u8 type | u32 id | u32 meta length | meta (JSON) | payload (bytes)
import type { ErrorCode } from '../errors.js'
import type { ChainHop, ResponseHeaders } from '../tier.js'

export const FRAME = {
  // gateway -> host
  LOAD: 1,
  UNLOAD: 2,
  SPAWN: 3,
  INVOKE: 4,
  DISPOSE: 5,
  STATS: 6,
  PING: 8,
  /** ends a sandbox's worker or process abruptly, as a crash would (tests, operators) */
  KILL: 7,
  /**
   * the caller of an INVOKE (same frame id) hung up: stop that call as at its deadline. No reply;
   * the INVOKE still answers (with KINDLING_ERR_CALL_CANCELLED), so its sandbox is known free again
   */
  CANCEL: 9,
  // host -> gateway
  OK: 100,
  ERROR: 101,
  RESULT: 102,
  READY: 103,
  LOG: 104,
} as const

export type FrameType = (typeof FRAME)[keyof typeof FRAME]

export interface Frame {
  type: number
  id: number
  meta: unknown
  payload: Buffer
}

const HEADER = 13
const EMPTY = Buffer.alloc(0)

export function encodeFrame(type: number, id: number, meta: unknown, payload: Buffer = EMPTY): Buffer {
  const [head, body] = encodeFrameParts(type, id, meta, payload)
  return body.length === 0 ? head : Buffer.concat([head, body])
}

/**
 * A frame as its head (lengths, type, id, meta) and its payload, to be written one after the other:
 * a large body goes to the socket as it is, not copied into a frame first.
 */
export function encodeFrameParts(type: number, id: number, meta: unknown, payload: Buffer = EMPTY): [Buffer, Buffer] {
  const metaBytes = meta === undefined ? EMPTY : Buffer.from(JSON.stringify(meta))
  const head = Buffer.allocUnsafe(HEADER + metaBytes.length)
  head.writeUInt32LE(head.length + payload.length - 4, 0)
  head.writeUInt8(type, 4)
  head.writeUInt32LE(id >>> 0, 5)
  head.writeUInt32LE(metaBytes.length, 9)
  metaBytes.copy(head, HEADER)
  return [head, payload]
}

/**
 * Accumulates bytes from a stream and yields whole frames. Chunks wait in a list until a frame is
 * complete, then its bytes are copied once into a buffer of its own (no growing concatenation).
 */
export class FrameDecoder {
  private chunks: Buffer[] = []
  private size = 0
  constructor(private readonly maxFrameBytes = 1 << 30) {}

  /** Adds bytes (none: only decodes what is buffered) and hands over every whole frame. */
  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    if (chunk.length > 0) {
      this.chunks.push(chunk)
      this.size += chunk.length
    }
    while (this.size >= 4) {
      if (this.chunks[0]!.length < 4) this.chunks = [Buffer.concat(this.chunks)]
      const len = this.chunks[0]!.readUInt32LE(0)
      if (len + 4 > this.maxFrameBytes || len < HEADER - 4) throw new Error(`bad frame length ${len}`)
      if (this.size < len + 4) return
      const { buf, shared } = this.take(len + 4)
      const metaLen = buf.readUInt32LE(9)
      const payloadStart = HEADER + metaLen
      const meta = metaLen ? JSON.parse(buf.toString('utf8', HEADER, payloadStart)) : undefined
      // a frame that shares a read chunk with others is copied out, so that the chunk can go
      const payload = payloadStart >= buf.length ? EMPTY : shared ? Buffer.from(buf.subarray(payloadStart)) : buf.subarray(payloadStart)
      onFrame({ type: buf.readUInt8(4), id: buf.readUInt32LE(5), meta, payload })
    }
  }

  /** The next n bytes: a view of the first chunk when it holds them all, else one copy. */
  private take(n: number): { buf: Buffer; shared: boolean } {
    this.size -= n
    const first = this.chunks[0]!
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return { buf: first.subarray(0, n), shared: true }
    }
    const out = Buffer.allocUnsafe(n)
    let off = 0
    while (off < n) {
      const c = this.chunks[0]!
      const k = Math.min(c.length, n - off)
      c.copy(out, off, 0, k)
      off += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    return { buf: out, shared: false }
  }
}

/** Request metadata of an INVOKE frame (the body travels as the payload). */
export interface InvokeMeta {
  sb: string
  callId: string
  method: string
  path: string
  query: string
  headers: Record<string, string>
  deadline: number
}

/** Result metadata of a RESULT frame (the body travels as the payload). */
export interface ResultMeta {
  status: number
  headers: ResponseHeaders
  stderr?: string
  errorCode?: ErrorCode
  timings?: { instantiateUs: number; runUs: number; totalUs: number }
  /** usage: the host process's CPU during the call, when no other call ran in it meanwhile */
  cpuUs?: number
  /** tracing: the kindling.call hops of a traced call */
  hops?: ChainHop[]
}

export interface ErrorMeta {
  code: string
  message: string
}
