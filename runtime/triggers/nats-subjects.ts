// The NATS connector: a function whose `topic` annotation names subjects is subscribed to them on
// the cluster's NATS connection, in a queue group per function, so that each message reaches one
// node (and every function subscribed to the subject once). A message becomes an asynchronous call
// with the message data as its body. Core NATS delivers at most once: a message that arrives while
// no node is subscribed, or that the async queue refuses (full), is lost (logged and counted).
// A request (a message with a reply subject) is answered with the call id.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'

export type OnMessage = (fnKey: string, subject: string, msg: Msg) => void

export class NatsSubjects {
  private readonly subs = new Map<string, { subjects: string[]; subs: Subscription[] }>()

  constructor(private readonly nc: NatsConnection, private readonly onMessage: OnMessage) {}

  /** Subscribes `fnKey` to exactly these subjects (an update that keeps them keeps the subscriptions). */
  set(fnKey: string, subjects: string[]): void {
    const old = this.subs.get(fnKey)
    if (old && old.subjects.join(',') === subjects.join(',')) return
    this.delete(fnKey)
    if (subjects.length === 0) return
    const queue = `kindling-trigger-${fnKey}`
    const subs = subjects.map((subject) => this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (!err) this.onMessage(fnKey, msg.subject, msg)
      },
    }))
    this.subs.set(fnKey, { subjects, subs })
  }

  delete(fnKey: string): void {
    const old = this.subs.get(fnKey)
    if (!old) return
    for (const s of old.subs) s.unsubscribe()
    this.subs.delete(fnKey)
  }

  subjectsOf(fnKey: string): string[] {
    return this.subs.get(fnKey)?.subjects ?? []
  }

  close(): void {
    for (const k of [...this.subs.keys()]) this.delete(k)
  }
}
