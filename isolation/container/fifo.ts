// The stdin of a container created ahead of time. Node's ChildProcess destroys its stdin pipe when
// `crun create` exits, long before the container starts; so stdin is a FIFO kindling opens itself:
// the container inherits the read end, kindling keeps the write end and writes the request body
// into it when the call comes.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)
const { O_RDWR, O_WRONLY, O_NONBLOCK } = fs.constants

export interface StdinFifo {
  /** the FIFO: whoever starts `crun create` opens its read end by this path */
  path: string
  /** write end, kept by kindling */
  writeFd: number
  /**
   * a read-write end held until the child has opened its read end (so that open does not block);
   * close it then: the container must be left with no writer but kindling's
   */
  keepFd: number
}

/**
 * FIFOs made ahead in batches (one `mkfifo` process per batch instead of one per sandbox, which
 * matters on the one-shot cold path). take() moves a spare FIFO to the wanted path.
 */
export class FifoPool {
  private spare: string[] = []
  private refilling: Promise<void> | undefined
  private seq = 0

  constructor(
    private readonly dir: string,
    private readonly batch = 16,
  ) {}

  private refill(): Promise<void> {
    this.refilling ??= (async () => {
      fs.mkdirSync(this.dir, { recursive: true })
      const names = Array.from({ length: this.batch }, () => `${this.dir}/f${process.pid}-${this.seq++}`)
      await execFileAsync('mkfifo', ['-m', '600', ...names])
      this.spare.push(...names)
    })().finally(() => (this.refilling = undefined))
    return this.refilling
  }

  /** A new FIFO at `file` (same filesystem as the pool's folder). */
  async take(file: string): Promise<void> {
    while (!this.spare.length) await this.refill()
    fs.renameSync(this.spare.pop()!, file)
    if (this.spare.length < this.batch / 2) void this.refill().catch(() => {})
  }
}

/**
 * Makes the FIFO at `file` (from the pool, or with mkfifo when no pool is given) and opens
 * kindling's write end. A temporary read-write end lets the write end, and later the child's read
 * end, open without blocking; the container must get a read-only end: if it held a writer too, it
 * would never see end of file.
 */
export async function makeStdinFifo(file: string, pool?: FifoPool): Promise<StdinFifo> {
  if (pool) await pool.take(file)
  else await execFileAsync('mkfifo', ['-m', '600', file])
  const keepFd = fs.openSync(file, O_RDWR)
  const writeFd = fs.openSync(file, O_WRONLY | O_NONBLOCK)
  return { path: file, writeFd, keepFd }
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
