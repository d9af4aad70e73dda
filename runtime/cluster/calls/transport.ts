// What the router needs of a way to pass a call to a worker (HTTP or NATS).
import type { AnswerHead, CallHead } from './frame.js'

export interface Transport {
  readonly name: 'http' | 'nats'
  /** rejects with a KindlingError, or CallNotSent when the call surely never reached the worker */
  call(url: string, nodeId: string, head: CallHead, body: Buffer, signal: AbortSignal): Promise<{ head: AnswerHead; body: Buffer }>
  /**
   * false when the worker surely cannot answer any more (its connection is gone), so the calls in
   * flight there fail now instead of at its heartbeat's expiry; absent: the transport sees that itself
   */
  reachable?(nodeId: string): Promise<boolean>
  close(): void | Promise<void>
}

/** The call did not reach the worker: it may go to another one. */
export class CallNotSent extends Error {}
