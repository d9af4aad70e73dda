// A helper thread that does asynchronous work (an HTTP request, a NATS round trip) for a thread that
// must block: a synchronous wasm import cannot await a promise. The caller posts a task with a word
// of shared memory and waits on it with Atomics.wait, in slices, so that the call's deadline and a
// cancel (`check` throws) still end the wait. The helper module posts { id, res } on the reply port
// given in workerData.replies first, then sets the task's flag to 1 and notifies.
// Used by outbound HTTP (outbound.ts) and the JetStream key-value backend (kv-jetstream.ts).
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads'
import { type ModuleEntry, runningFromSource } from '../../entry.js'

/** longest wait between two looks at the deadline and the cancel flag */
const WAIT_SLICE_MS = 5

/** What every task carries besides its own fields. */
export interface BlockingTask {
  id: number
  flag: Int32Array
}

export class BlockingThread<Task extends object, Res> {
  private readonly worker: Worker
  private readonly replies: MessagePort
  private readonly flag = new Int32Array(new SharedArrayBuffer(4))
  private nextId = 1
  /** false once the thread failed: the owner makes a new one */
  alive = true

  /**
   * `loadFailed` is the source of a function (e) => void run in the helper when `entry` does not
   * load: it must answer every task, so that no caller is left waiting until its timeout.
   */
  constructor(entry: ModuleEntry, loadFailed: string, workerData: Record<string, unknown> = {}) {
    const { port1, port2 } = new MessageChannel()
    this.replies = port1
    // a worker's execArgv --import does not load tsx here (Node 20): from source, register it first
    const load = runningFromSource(entry.url)
      ? `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(entry.url)}) })`
      : `import(${JSON.stringify(entry.url)})`
    this.worker = new Worker(`${load}.catch(${loadFailed})`, { eval: true, workerData: { ...workerData, replies: port2 }, transferList: [port2] })
    // it must never keep a process alive, nor take one down with it
    this.worker.unref()
    this.replies.unref()
    this.worker.on('error', () => {
      this.alive = false
    })
  }

  /** posts a message that needs no answer (an abort) */
  post(message: object): void {
    this.worker.postMessage(message)
  }

  /**
   * Blocks until the answer is there, or until `until` (Date.now() ms; undefined is returned then).
   * `check` runs between slices and throws to end the wait (deadline, cancel); `onEnd(id)` runs
   * then, before the throw, so the helper can drop the work.
   */
  call(task: Task, check: () => void, until = Infinity, onEnd?: (id: number) => void): Res | undefined {
    const id = this.nextId++
    Atomics.store(this.flag, 0, 0)
    this.worker.postMessage({ ...task, id, flag: this.flag })
    for (;;) {
      Atomics.wait(this.flag, 0, 0, Math.max(0, Math.min(WAIT_SLICE_MS, until - Date.now())))
      if (Atomics.load(this.flag, 0) !== 0) {
        // cleared before the port is read: a reply posted after the read sets it again
        Atomics.store(this.flag, 0, 0)
        // replies of tasks given up earlier may still be queued: skip them
        for (let m = receiveMessageOnPort(this.replies); m; m = receiveMessageOnPort(this.replies)) {
          const reply = m.message as { id: number; res: Res }
          if (reply.id === id) return reply.res
        }
        continue
      }
      try {
        check()
      } catch (e) {
        onEnd?.(id)
        throw e
      }
      if (Date.now() >= until) {
        onEnd?.(id)
        return undefined
      }
    }
  }
}

/** tsx's ESM register API (its CommonJS twin, what require finds, cannot register from a worker) */
function tsxApi(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
}
