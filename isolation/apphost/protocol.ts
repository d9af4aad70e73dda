// The wire format between the gateway and an app host process: length-prefixed binary frames on a
// socketpair (fd 3 of the child). Node's built-in IPC serialises everything as JSON; these frames
// carry bodies as raw bytes and let many frames go out in one write under load.
//
//   u32 length of the rest | u8 type | u32 id | u32 meta length | meta (JSON) | payload (bytes)
import type { ResponseHeaders } from '../tier.js'

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
  const metaBytes = meta === undefined ? EMPTY : Buffer.from(JSON.stringify(meta))
  const out = Buffer.allocUnsafe(HEADER + metaBytes.length + payload.length)
  out.writeUInt32LE(out.length - 4, 0)
  out.writeUInt8(type, 4)
  out.writeUInt32LE(id >>> 0, 5)
  out.writeUInt32LE(metaBytes.length, 9)
  metaBytes.copy(out, HEADER)
  payload.copy(out, HEADER + metaBytes.length)
  return out
}

/** Accumulates bytes from a stream and yields whole frames. */
export class FrameDecoder {
  private buf: Buffer = EMPTY
  constructor(private readonly maxFrameBytes = 1 << 30) {}

  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    let off = 0
    while (this.buf.length - off >= 4) {
      const len = this.buf.readUInt32LE(off)
      if (len + 4 > this.maxFrameBytes || len < HEADER - 4) throw new Error(`bad frame length ${len}`)
      if (this.buf.length - off < len + 4) break
      const type = this.buf.readUInt8(off + 4)
      const id = this.buf.readUInt32LE(off + 5)
      const metaLen = this.buf.readUInt32LE(off + 9)
      const metaStart = off + HEADER
      const payloadStart = metaStart + metaLen
      const end = off + 4 + len
      const meta = metaLen ? JSON.parse(this.buf.toString('utf8', metaStart, payloadStart)) : undefined
      // copy the payload out so the decoder's buffer can be released
      const payload = payloadStart < end ? Buffer.from(this.buf.subarray(payloadStart, end)) : EMPTY
      off = end
      onFrame({ type, id, meta, payload })
    }
    this.buf = off === this.buf.length ? EMPTY : this.buf.subarray(off)
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
  errorCode?: string
  timings?: { instantiateUs: number; runUs: number; totalUs: number }
}

export interface ErrorMeta {
  code: string
  message: string
}
