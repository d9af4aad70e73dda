// NATS request/reply between nodes: the gateway publishes a call frame on the chosen worker's own
// subject (placement picks the worker, so no queue group) with a reply subject under its inbox; the
// worker answers there. Frames larger than the server's max_payload (1 MiB by default) are cut into
// numbered chunks both ways (NATS keeps one publisher's order on a subject) and put back together.
import crypto from 'node:crypto'
import { RequestError, type Subscription } from '@nats-io/transport-node'
import { KindlingError } from '../../errors.js'
import type { InflightBytes } from '../../gateway/inflight.js'
import type { ClusterLink } from '../connect.js'
import type { CallAuth } from './auth.js'
import { type AnswerHead, type CallHead, decodeFrame, encodeFrame } from './frame.js'
import { aliveSubject, callSubject, cancelSubject } from './names.js'
import { CallNotSent, type Transport } from './transport.js'
import { checkHead, HEAD_ROOM, runPlacedCall, type WorkerDeps } from './worker.js'

const CHUNK_HEAD = 8
/** most chunks one frame may have (a frame is at most the body limit plus its head) */
const MAX_CHUNKS = 4096
/** a frame whose chunks stopped coming is dropped after this */
const PARTIAL_MS = 30_000

function chunksOf(frame: Buffer, maxPayload: number): Buffer[] {
  const size = Math.max(1024, maxPayload - 256)
  const n = Math.max(1, Math.ceil(frame.length / size))
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const part = frame.subarray(i * size, (i + 1) * size)
    const c = Buffer.allocUnsafe(CHUNK_HEAD + part.length)
    c.writeUInt32BE(i, 0)
    c.writeUInt32BE(n, 4)
    part.copy(c, CHUNK_HEAD)
    out.push(c)
  }
  return out
}

/** Puts the chunks of frames back together, one frame per reply subject. */
class Reassembly {
  private readonly partial = new Map<string, { parts: Buffer[]; got: number; timer: NodeJS.Timeout }>()

  /** the whole frame once its last chunk came, else undefined; throws on a malformed chunk */
  add(id: string, data: Uint8Array, onDrop?: () => void): Buffer | undefined {
    if (data.length < CHUNK_HEAD) throw new Error('short chunk')
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    const i = b.readUInt32BE(0)
    const n = b.readUInt32BE(4)
    if (n < 1 || n > MAX_CHUNKS || i >= n) throw new Error('bad chunk number')
    const body = b.subarray(CHUNK_HEAD)
    if (n === 1) return body
    let p = this.partial.get(id)
    if (!p) {
      const timer = setTimeout(() => {
        this.partial.delete(id)
        onDrop?.()
      }, PARTIAL_MS)
      timer.unref()
      p = { parts: new Array<Buffer>(n), got: 0, timer }
      this.partial.set(id, p)
    }
    if (p.parts.length !== n || p.parts[i]) throw new Error('chunk out of place')
    p.parts[i] = body
    if (++p.got < n) return undefined
    clearTimeout(p.timer)
    this.partial.delete(id)
    return Buffer.concat(p.parts)
  }

  drop(id: string): boolean {
    const p = this.partial.get(id)
    if (!p) return false
    clearTimeout(p.timer)
    this.partial.delete(id)
    return true
  }

  clear(): void {
    for (const p of this.partial.values()) clearTimeout(p.timer)
    this.partial.clear()
  }
}

const maxPayloadOf = (link: ClusterLink) => link.nc.info?.max_payload ?? 1024 * 1024

interface Waiting {
  resolve: (v: { head: AnswerHead; body: Buffer }) => void
  reject: (e: Error) => void
}

export class NatsTransport implements Transport {
  readonly name = 'nats'
  private readonly prefix: string
  private readonly sub: Subscription
  private readonly waiting = new Map<string, Waiting>()
  private readonly answers = new Reassembly()
  private seq = 0

  constructor(
    private readonly link: ClusterLink,
    private readonly auth: CallAuth,
    selfId: string,
  ) {
    this.prefix = `_INBOX.kindling.${selfId}.${crypto.randomBytes(6).toString('hex')}`
    this.sub = link.nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (err) return
        const w = this.waiting.get(msg.subject)
        if (!w) return
        if (msg.headers?.hasError) {
          // the server's "no responders" (503): no worker listens on that subject (it died, or just
          // left), so the call reached nobody and may go to another worker
          this.waiting.delete(msg.subject)
          this.answers.drop(msg.subject)
          return w.reject(new CallNotSent(`no worker took the call (NATS ${msg.headers.code} ${msg.headers.description})`))
        }
        try {
          const frame = this.answers.add(msg.subject, msg.data)
          if (!frame) return
          this.waiting.delete(msg.subject)
          w.resolve(decodeFrame<AnswerHead>(frame))
        } catch (e) {
          this.waiting.delete(msg.subject)
          this.answers.drop(msg.subject)
          w.reject(new KindlingError('KINDLING_ERR_WORKER_LOST', `unreadable answer from the worker: ${(e as Error).message}`))
        }
      },
    })
  }

  call(_url: string, nodeId: string, head: CallHead, body: Buffer, signal: AbortSignal): Promise<{ head: AnswerHead; body: Buffer }> {
    if (!this.link.connected()) return Promise.reject(new CallNotSent('NATS is not connected'))
    const reply = `${this.prefix}.${++this.seq}`
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.waiting.delete(reply)) return
        this.answers.drop(reply)
        // the worker stops the call as if its client had hung up
        this.link.nc.publish(cancelSubject(nodeId), reply)
        reject(new KindlingError('KINDLING_ERR_CALL_CANCELLED', 'the client hung up before the answer'))
      }
      const settle = <T>(f: (v: T) => void) => (v: T) => {
        signal.removeEventListener('abort', onAbort)
        f(v)
      }
      this.waiting.set(reply, { resolve: settle(resolve), reject: settle(reject) })
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        for (const c of chunksOf(encodeFrame({ ...head, auth: this.auth.token() }, body), maxPayloadOf(this.link))) {
          this.link.nc.publish(callSubject(nodeId), c, { reply })
        }
      } catch (e) {
        this.waiting.delete(reply)
        signal.removeEventListener('abort', onAbort)
        reject(new CallNotSent(`could not publish the call: ${(e as Error).message}`))
      }
    })
  }

  /**
   * A kill -9 closes the worker's socket, so the NATS server drops its subscriptions at once and a
   * probe of its alive subject gets "no responders"; its heartbeat would take up to its TTL (3.5 s).
   * A probe that times out or cannot be sent says nothing (true).
   */
  async reachable(nodeId: string): Promise<boolean> {
    if (!this.link.connected()) return true
    try {
      await this.link.nc.request(aliveSubject(nodeId), undefined, { timeout: 1000 })
      return true
    } catch (e) {
      return !(e instanceof RequestError && e.isNoResponders())
    }
  }

  close(): void {
    this.sub.unsubscribe()
    this.answers.clear()
    for (const w of this.waiting.values()) w.reject(new KindlingError('KINDLING_ERR_SHUTTING_DOWN', 'this gateway is shutting down'))
    this.waiting.clear()
  }
}

/** The worker's side: takes frames on its subject, runs them, answers on their reply subjects. */
export function serveNatsCalls(link: ClusterLink, deps: WorkerDeps & { auth: CallAuth; inflight: InflightBytes }): { close(): Promise<void> } {
  const frames = new Reassembly()
  const held = new Map<string, number>()
  const running = new Map<string, AbortController>()
  const under = new Set<Promise<void>>()
  const release = (reply: string) => {
    deps.inflight.release(held.get(reply) ?? 0)
    held.delete(reply)
  }
  const answer = (reply: string, head: AnswerHead, body: Buffer) => {
    if (!link.connected()) return
    for (const c of chunksOf(encodeFrame(head, body), maxPayloadOf(link))) link.nc.publish(reply, c)
  }
  const refuse = (reply: string, e: KindlingError) => answer(reply, { status: e.status, headers: {}, errorCode: e.code, message: e.message, node: deps.nodeId }, Buffer.alloc(0))

  const calls = link.nc.subscribe(callSubject(deps.nodeId), {
    callback: (err, msg) => {
      const reply = msg?.reply
      if (err || !reply) return
      // a frame is at most the body limit plus its head, as over HTTP
      if ((held.get(reply) ?? 0) + msg.data.length > deps.maxBodyBytes + HEAD_ROOM) {
        frames.drop(reply)
        release(reply)
        return refuse(reply, new KindlingError('KINDLING_ERR_PAYLOAD_TOO_LARGE', `the body is more than ${deps.maxBodyBytes} bytes`))
      }
      // request bytes count against this worker's bound from their first chunk, as over HTTP
      if (!deps.inflight.tryReserve(msg.data.length)) {
        frames.drop(reply)
        release(reply)
        return refuse(reply, new KindlingError('KINDLING_ERR_INFLIGHT_BYTES', `the worker holds as many request bytes as it may (${deps.inflight.limit})`))
      }
      held.set(reply, (held.get(reply) ?? 0) + msg.data.length)
      let frame: Buffer | undefined
      try {
        frame = frames.add(reply, msg.data, () => release(reply))
      } catch {
        release(reply)
        return
      }
      if (!frame) return
      let head: CallHead
      let body: Buffer
      try {
        const f = decodeFrame<CallHead & { auth?: unknown }>(frame)
        // a frame without a valid cluster token gets no answer at all
        if (!deps.auth.verify(f.head.auth)) return release(reply)
        head = checkHead(f.head)
        body = f.body
      } catch (e) {
        release(reply)
        return refuse(reply, e instanceof KindlingError ? e : new KindlingError('KINDLING_ERR_BAD_REQUEST', `cluster call frame: ${(e as Error).message}`))
      }
      const ac = new AbortController()
      running.set(reply, ac)
      const p = runPlacedCall(deps, head, body, ac.signal).then((out) => {
        running.delete(reply)
        release(reply)
        if (!ac.signal.aborted) answer(reply, out.head, out.body)
      })
      under.add(p)
      void p.finally(() => under.delete(p))
    },
  })
  // answers while this worker's connection lives; unsubscribed last, after the calls under way answered
  const alive = link.nc.subscribe(aliveSubject(deps.nodeId), { callback: (err, msg) => void (err || msg.respond()) })
  const cancels = link.nc.subscribe(cancelSubject(deps.nodeId), {
    callback: (err, msg) => {
      if (err) return
      const reply = msg.string()
      if (frames.drop(reply)) release(reply)
      running.get(reply)?.abort()
    },
  })
  return {
    /** takes no new calls; the calls under way finish and answer (a shutdown, as over HTTP) */
    async close() {
      calls.unsubscribe()
      frames.clear()
      await Promise.all(under)
      cancels.unsubscribe()
      alive.unsubscribe()
    },
  }
}
