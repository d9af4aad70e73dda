// The outbound helper thread: makes the HTTP requests of the functions running on the thread that
// started it, while that thread waits (Atomics.wait) in a blocking kindling.http_request import.
// Each request comes with a word of shared memory; the reply is posted on the reply port first and
// the word set to 1 after, so the waiting thread finds it with receiveMessageOnPort.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { outboundFetch, type OutboundPolicy, type OutboundRequest } from './outbound-fetch.js'

export type OutboundTask =
  | { op: 'fetch'; id: number; req: OutboundRequest; policy: OutboundPolicy; flag: Int32Array }
  | { op: 'abort'; id: number }

const replies = (workerData as { replies: MessagePort }).replies
const running = new Map<number, AbortController>()

parentPort!.on('message', (task: OutboundTask) => {
  if (task.op === 'abort') {
    running.get(task.id)?.abort()
    return
  }
  const ac = new AbortController()
  running.set(task.id, ac)
  void outboundFetch(task.req, task.policy, ac.signal).then((res) => {
    running.delete(task.id)
    replies.postMessage({ id: task.id, res })
    Atomics.store(task.flag, 0, 1)
    Atomics.notify(task.flag, 0)
  })
})
