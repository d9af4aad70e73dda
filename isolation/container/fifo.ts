// The stdin of a container created ahead of time. Node's ChildProcess destroys its stdin pipe when
// `crun create` exits, long before the container starts; so stdin is a FIFO kindling opens itself:
// the container inherits the read end, kindling keeps the write end and writes the request body
// into it when the call comes.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)
const { O_RDONLY, O_RDWR, O_WRONLY, O_NONBLOCK } = fs.constants

export interface StdinFifo {
  /** read end, to hand to `crun create` as fd 0 (close it here once the child has it) */
  readFd: number
  /** write end, kept by kindling */
  writeFd: number
}

export async function makeStdinFifo(file: string): Promise<StdinFifo> {
  await execFileAsync('mkfifo', ['-m', '600', file])
  // A temporary read-write end lets both real ends open without blocking. The container must get
  // a read-only end: if it held a writer too, it would never see end of file.
  const keep = fs.openSync(file, O_RDWR)
  try {
    const readFd = fs.openSync(file, O_RDONLY)
    const writeFd = fs.openSync(file, O_WRONLY | O_NONBLOCK)
    return { readFd, writeFd }
  } finally {
    fs.closeSync(keep)
  }
}

/** Writes the body into the FIFO and closes it (the function then sees end of file). */
export function writeAndClose(writeFd: number, body: Buffer): net.Socket {
  const s = new net.Socket({ fd: writeFd, readable: false, writable: true })
  s.on('error', () => {}) // EPIPE when the function exits without reading its stdin
  s.end(body)
  return s
}

export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return
  try {
    fs.closeSync(fd)
  } catch {
    // already closed
  }
}
