// The raw primitives the tiers are built on, measured in the same run as the tiers: a Worker
// spawn, a fork of a node script, and a one-shot OCI runtime run of a bundle. (The wasm floor,
// a bare instantiate+call, is in bare-wasm.ts.) Each returns microseconds of one occurrence.
import { spawn } from 'node:child_process'
import { fork } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { hostEnvironment } from '../../isolation/index.js'

/** new Worker(...) until its first message arrives; the worker is terminated afterwards (not timed). */
export async function workerSpawnUs(): Promise<number> {
  const t0 = performance.now()
  const w = new Worker("require('node:worker_threads').parentPort.postMessage(0)", { eval: true })
  await new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve())
    w.once('error', reject)
  })
  const us = (performance.now() - t0) * 1000
  await w.terminate()
  return us
}

/** A node script that says ready over IPC and then waits to be killed. */
export function readyScript(dir: string): string {
  const file = path.join(dir, 'bench-ready-child.cjs')
  if (!fs.existsSync(file)) fs.writeFileSync(file, "process.send('ready')\nprocess.on('disconnect', () => process.exit(0))\n")
  return file
}

/**
 * child_process.fork of a node script until its ready message; killed afterwards (not timed). The
 * child gets the environment kindling gives its own processes (no NODE_EXTRA_CA_CERTS, whose
 * parsing alone costs ~60 ms per node start here), so the floor is what kindling could reach.
 */
export async function forkUs(script: string): Promise<number> {
  const env = hostEnvironment()
  const t0 = performance.now()
  const child = fork(script, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [], env })
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the forked child exited with ${code} before it was ready`)))
  })
  const us = (performance.now() - t0) * 1000
  const gone = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await gone
  return us
}

export interface CommandRun {
  us: number
  code: number | null
  stdout: Buffer
  stderr: string
}

/** Runs a command with `input` on stdin until it exits (crun run, docker run, ...). */
export function runCommand(cmd: string, args: string[], input: Buffer = Buffer.alloc(0), env?: NodeJS.ProcessEnv): Promise<CommandRun> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env })
    const out: Buffer[] = []
    let err = ''
    p.stdout.on('data', (d: Buffer) => out.push(d))
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.on('error', (e) => (err += e.message))
    p.stdin.on('error', () => {})
    p.stdin.end(input)
    p.on('close', (code) => resolve({ us: (performance.now() - t0) * 1000, code, stdout: Buffer.concat(out), stderr: err }))
  })
}
