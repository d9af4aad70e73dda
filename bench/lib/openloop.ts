// Runs the open-loop generator (openloop-main.ts) in its own process and reads its results.
import { fork } from 'node:child_process'
import { siblingModule, which } from '../../isolation/index.js'
import { track } from './children.js'

export interface OpenLoopSpec {
  url: string
  body?: string
  rates: number[]
  durationS: number
  /** how long to wait for responses after the last send */
  drainS: number
  pauseMs: number
  maxConnections: number
  /** untimed warm-up at each rate before it is measured, s */
  warmupS?: number
  /** pin the generator to this CPU (taskset), so that it and the system under test do not share cores */
  cpu?: number
}

export interface OpenLoopOutcome {
  rate: number
  offered: number
  completed: number
  /** 200 responses per second, from the first scheduled send to the last response */
  achievedRps: number
  elapsedS: number
  /** send to last byte */
  latencyUs: { p50: number; p90: number; p99: number; max: number }
  /** scheduled send to last byte: no coordinated omission (a late send or a wait for a connection counts) */
  fromScheduleUs?: { p50: number; p90: number; p99: number; max: number }
  /** how late the generator sent, against the schedule */
  sendLagUs: { p50: number; p99: number }
  errors: number
  non200: number
  /** not sent: every connection was busy and the connection limit was reached */
  dropped: number
  unfinished: number
  connections: number
  firstError?: string
}

export function runOpenLoop(spec: OpenLoopSpec, onRate?: (o: OpenLoopOutcome) => void): Promise<OpenLoopOutcome[]> {
  const entry = siblingModule(import.meta.url, 'openloop-main')
  return new Promise((resolve, reject) => {
    // pinned: taskset execs node with the affinity set, and the IPC channel survives the exec
    const taskset = spec.cpu !== undefined ? which('taskset') : undefined
    const opts = taskset ? { execPath: taskset, execArgv: ['-c', String(spec.cpu), process.execPath, ...entry.execArgv] } : { execArgv: entry.execArgv }
    const child = track(fork(entry.path, [JSON.stringify(spec)], { ...opts, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }))
    const out: OpenLoopOutcome[] = []
    let buf = ''
    let err = ''
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      let i: number
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim()
        buf = buf.slice(i + 1)
        if (!line) continue
        const o = JSON.parse(line) as OpenLoopOutcome
        out.push(o)
        onRate?.(o)
      }
    })
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`the open-loop generator exited with ${code}: ${err.slice(-500)}`))))
  })
}
