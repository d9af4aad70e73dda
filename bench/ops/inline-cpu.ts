// Can the inline tier report a call's CPU time? It runs the call synchronously on the gateway's
// thread, and Node 20 has only process-wide CPU clocks (process.cpuUsage and process.resourceUsage
// are both getrusage(RUSAGE_SELF)): a delta around the call also counts every other thread of the
// gateway (V8's GC and compiler threads, libuv's pool, the outbound helper). This measures by how
// much, against the calling thread's own CPU time from /proc/thread-self/schedstat (Linux, ns),
// around a busy loop of fixed work: alone, and with another thread of the process busy.
//   node --import tsx bench/ops/inline-cpu.ts
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'

const threadNs = (): number => Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0])
const procUs = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}
const ruUs = (): number => {
  const r = process.resourceUsage()
  return r.userCPUTime + r.systemCPUTime
}

function spin(iters: number): number {
  let x = 0
  for (let i = 0; i < iters; i++) x = (x * 31 + i) | 0
  return x
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!
const f = (n: number) => n.toFixed(1)

function measure(label: string, iters: number, reps: number): void {
  const thread: number[] = []
  const proc: number[] = []
  const ru: number[] = []
  let sink = 0
  for (let i = 0; i < reps; i++) {
    const t0 = threadNs()
    const r0 = ruUs()
    const p0 = procUs()
    sink ^= spin(iters)
    const p1 = procUs()
    const r1 = ruUs()
    const t1 = threadNs()
    thread.push((t1 - t0) / 1000)
    proc.push(p1 - p0)
    ru.push(r1 - r0)
  }
  const over = proc.map((p, i) => p - thread[i]!)
  console.log(`${label.padEnd(28)} thread p50 ${f(q(thread, 0.5)).padStart(8)} µs | cpuUsage p50 ${f(q(proc, 0.5)).padStart(8)} p95 ${f(q(proc, 0.95)).padStart(8)} | resourceUsage p50 ${f(q(ru, 0.5)).padStart(8)} | cpuUsage - thread p50 ${f(q(over, 0.5))} p95 ${f(q(over, 0.95))} max ${f(Math.max(...over))}${sink === 42 ? ' ' : ''}`)
}

function cost(label: string, fn: () => unknown, n = 20_000): void {
  const t = performance.now()
  for (let i = 0; i < n; i++) fn()
  console.log(`${label.padEnd(28)} ${f(((performance.now() - t) * 1000) / n)} µs per read`)
}

// ~20 µs, ~200 µs and ~2 ms of work on a quiet core
const SIZES: [string, number][] = [['small', 20_000], ['medium', 200_000], ['large', 2_000_000]]

cost('process.cpuUsage()', procUs)
cost('process.resourceUsage()', ruUs)
cost('/proc/thread-self/schedstat', threadNs)
for (const [name, iters] of SIZES) measure(`alone, ${name}`, iters, 300)
// another thread of the process at work meanwhile (as a GC thread or the outbound helper can be)
const busy = new Worker('const end = Date.now() + 60000; let x = 0; while (Date.now() < end) x++', { eval: true })
await new Promise((r) => setTimeout(r, 100))
for (const [name, iters] of SIZES) measure(`other thread busy, ${name}`, iters, 300)
await busy.terminate()
