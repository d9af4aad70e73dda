// Starts a real nats-server with JetStream for a test: a random loopback port, its own store dir,
// stopped (and its dir removed) by the test. restart() keeps the port and the store, as an operator's
// restart would, so that tests can check what survives it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from './free-port.js'

export interface NatsServer {
  /** nats://127.0.0.1:PORT */
  url: string
  port: number
  storeDir: string
  pid(): number
  output(): string
  /** kill -9, then start again on the same port and store */
  restart(): Promise<void>
  kill9(): Promise<void>
  start(): Promise<void>
  stop(): Promise<void>
}

/** why nats-server cannot run here, or undefined when it can */
export function natsServerUnavailable(): string | undefined {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
  return r.error ? `nats-server is not installed (apt-get install nats-server): ${r.error.message}` : undefined
}


export async function startNatsServer(): Promise<NatsServer> {
  const port = await freePort()
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-nats-'))
  let child: ChildProcess | undefined
  let out = ''
  const start = async () => {
    out = ''
    const c = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (out += d))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${out}`)), 15_000)
      const check = () => {
        if (/Server is ready/.test(out)) {
          clearTimeout(timer)
          resolve()
        }
      }
      c.stdout!.on('data', check)
      c.stderr!.on('data', check)
      c.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`nats-server exited with ${code}:\n${out}`))
      })
    })
  }
  const halt = async (signal: NodeJS.Signals) => {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((res) => c.once('exit', () => res()))
    c.kill(signal)
    await exited
  }
  await start()
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    pid: () => child?.pid ?? -1,
    output: () => out,
    start,
    kill9: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGKILL')
      await start()
    },
    async stop() {
      await halt('SIGTERM')
      fs.rmSync(storeDir, { recursive: true, force: true })
    },
  }
}
