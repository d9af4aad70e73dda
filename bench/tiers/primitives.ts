// The raw primitives the tiers are built on, measured in the same run as the tiers: a WebAssembly
// instance, a worker thread, a forked Node process, and a message round trip to each.
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { sample, type Summary, summarize } from './stats.js'

export interface PrimitiveResults {
  wasmInstanceAndCall: Summary
  workerSpawn: Summary
  workerRoundTrip: Summary
  forkSpawn: Summary
  forkIpcRoundTrip: Summary
}

/** (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)) */
const ADD_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00,
  0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,
])

const WORKER_CODE = `const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m)); parentPort.postMessage('ready')`
const CHILD_CODE = `process.on('message', (m) => process.send(m)); process.send('ready')\n`

export async function measurePrimitives(n: { spawn: number; roundTrip: number; instance: number }): Promise<PrimitiveResults> {
  const module = new WebAssembly.Module(ADD_MODULE)
  const wasmInstanceAndCall = summarize(await sample(n.instance, () => {
    const i = new WebAssembly.Instance(module, {})
    return (i.exports.add as (a: number, b: number) => number)(1, 2)
  }))

  const startWorker = () => new Promise<Worker>((resolve, reject) => {
    const w = new Worker(WORKER_CODE, { eval: true })
    w.once('message', () => resolve(w))
    w.once('error', reject)
  })
  const workerSpawn = summarize(await sample(n.spawn, async () => {
    const w = await startWorker()
    await w.terminate()
  }))
  const w = await startWorker()
  const workerRoundTrip = summarize(await sample(n.roundTrip, () => new Promise<void>((resolve) => {
    w.once('message', () => resolve())
    w.postMessage(1)
  })))
  await w.terminate()

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-bench-'))
  const script = path.join(dir, 'child.cjs')
  fs.writeFileSync(script, CHILD_CODE)
  const startChild = () => new Promise<ReturnType<typeof fork>>((resolve, reject) => {
    const c = fork(script, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [] })
    c.once('message', () => resolve(c))
    c.once('error', reject)
  })
  const stop = (c: ReturnType<typeof fork>) => new Promise<void>((resolve) => {
    c.once('exit', () => resolve())
    c.kill('SIGKILL')
  })
  try {
    const forkSpawn = summarize(await sample(n.spawn, async () => stop(await startChild())))
    const c = await startChild()
    const forkIpcRoundTrip = summarize(await sample(n.roundTrip, () => new Promise<void>((resolve) => {
      c.once('message', () => resolve())
      c.send(1)
    })))
    await stop(c)
    return { wasmInstanceAndCall, workerSpawn, workerRoundTrip, forkSpawn, forkIpcRoundTrip }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
