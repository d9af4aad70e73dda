// The spawner: a small process that starts other processes for the gateway. fork() copies the
// parent's page tables, so a spawn from the gateway blocks its event loop for milliseconds (1 ms
// at 44 MiB RSS, 4.6 ms at 149 MiB, 13.6 ms at 351 MiB, measured here); from this process it costs
// ~1 ms and blocks nobody's calls. Output and exit come back as messages.
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { performLastRites } from './last-rites.js'
import type { FromSpawner, LastRites, SpawnRequest, ToSpawner } from './protocol.js'

const children = new Map<number, ChildProcess>()
/** containers the gateway has not deleted yet, by key */
const rites = new Map<string, LastRites>()

function send(m: FromSpawner): void {
  process.send?.(m)
}

function start(req: SpawnRequest): void {
  let fifoFd: number | undefined
  try {
    // the gateway holds a writer open, so this open does not block
    if (typeof req.stdin === 'object') fifoFd = fs.openSync(req.stdin.fifo, fs.constants.O_RDONLY)
    const stdin = fifoFd ?? (req.stdin === 'pipe' ? 'pipe' : 'ignore')
    const outputs = Array.from({ length: req.outputs }, () => 'pipe' as const)
    const child = spawn(req.cmd, req.args, { stdio: [stdin, ...outputs], env: req.env ?? process.env })
    children.set(req.id, child)
    let open = req.outputs + 1 // output pipes + the exit
    const done = () => {
      if (--open === 0) children.delete(req.id)
    }
    child.on('spawn', () => send({ op: 'spawned', id: req.id, pid: child.pid ?? -1 }))
    child.on('error', (e) => send({ op: 'error', id: req.id, message: e.message }))
    for (let fd = 1; fd <= req.outputs; fd++) {
      const stream = child.stdio[fd] as NodeJS.ReadableStream
      stream.on('data', (data: Buffer) => send({ op: 'data', id: req.id, fd, data }))
      stream.on('close', () => {
        send({ op: 'closed', id: req.id, fd })
        done()
      })
    }
    child.stdin?.on('error', () => {})
    child.on('exit', (code, signal) => {
      send({ op: 'exit', id: req.id, code, signal })
      done()
    })
  } catch (e) {
    send({ op: 'error', id: req.id, message: (e as Error).message })
  } finally {
    if (fifoFd !== undefined) fs.closeSync(fifoFd) // the child has its own copy
  }
}

process.on('message', (m: ToSpawner) => {
  switch (m.op) {
    case 'spawn':
      return start(m)
    case 'write':
      children.get(m.id)?.stdin?.write(m.data)
      return
    case 'end':
      children.get(m.id)?.stdin?.end()
      return
    case 'kill':
      children.get(m.id)?.kill(m.signal)
      return
    case 'guard':
      rites.set(m.key, m.rites)
      return
    case 'unguard':
      rites.delete(m.key)
      return
  }
})
// The gateway went away (the IPC channel closes even on kill -9): so does the spawner, and with it
// everything the gateway did not get to delete: the processes started here, then each container
// still registered (after a clean close there is none). The sweep at the next start is the second line.
process.on('disconnect', () => {
  for (const c of children.values()) c.kill('SIGKILL')
  for (const r of rites.values()) {
    try {
      performLastRites(r)
    } catch {
      // keep going: the others must die too
    }
  }
  // the containers' parent cgroups too, once empty (rmdir refuses a non-empty one)
  for (const d of new Set([...rites.values()].flatMap((r) => r.cgroups.map((c) => path.dirname(c))))) {
    try {
      fs.rmdirSync(d)
    } catch {
      // still in use, or gone
    }
  }
  process.exit(0)
})
