// An in-memory WASI preview1 implementation for CGI-style functions. node:wasi crashes Node 20
// under repeated instantiation and costs ~90 µs per import per instance (measured-limits.md); this
// one binds once per instance and switches per call to a new context: stdin bytes, args, env,
// captured stdout/stderr and read-only preopened directories. No host file, socket or process is
// reachable through it.
import { randomFillSync } from 'node:crypto'
import { type FsNode, type Preopen, resolvePath } from './wasi-fs.js'

export const ERRNO = {
  SUCCESS: 0, BADF: 8, EXIST: 20, FBIG: 22, INVAL: 28, IO: 29, ISDIR: 31, NOENT: 44, NOSYS: 52,
  NOTDIR: 54, NOTSUP: 58, ROFS: 69, SPIPE: 70, NOTCAPABLE: 76,
} as const

const FILETYPE = { UNKNOWN: 0, CHARACTER_DEVICE: 2, DIRECTORY: 3, REGULAR_FILE: 4 } as const
const RIGHTS_ALL = 0x1fffffffn
const RIGHTS_READ_ONLY = 0x1fffffffn & ~(0x40n | 0x08n | 0x400n | 0x800n | 0x200000n | 0x10000n | 0x20000n | 0x8000n | 0x80000n | 0x100000n | 0x2000000n | 0x4000000n)
const OFLAGS_CREAT = 1
const OFLAGS_DIRECTORY = 2
const OFLAGS_EXCL = 4
const OFLAGS_TRUNC = 8
const FDFLAGS_APPEND = 1
const WRITE_RIGHTS = 0x40n | 0x400000n // fd_write, path_filestat_set_size... any write right means "wants to write"

/** Thrown by proc_exit to unwind the guest; the runner turns it into an exit code. */
export class WasiExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`)
    this.name = 'WasiExit'
  }
}

/**
 * Runs a WASI command's `_start` and answers its exit code: 0 when it returns, the code of its
 * proc_exit otherwise; any other throw (a trap, an interruption) goes on to the caller.
 */
export function runWasiStart(exports: WebAssembly.Exports): number {
  try {
    ;(exports._start as () => void)()
    return 0
  } catch (e) {
    if (!(e instanceof WasiExit)) throw e
    return e.code
  }
}

/** Thrown when the guest writes more output than allowed. */
export class OutputLimitError extends Error {
  constructor(readonly limit: number) {
    super(`the function wrote more than ${limit} bytes of output`)
    this.name = 'OutputLimitError'
  }
}

/** Thrown when a sleep would run past the call's deadline. */
export class DeadlineError extends Error {
  constructor() {
    super('deadline reached')
    this.name = 'DeadlineError'
  }
}

/** Collects what the guest writes to one stream. */
export class OutputBuffer {
  private chunks: Uint8Array[] = []
  length = 0
  constructor(readonly limit: number) {}

  push(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.limit) throw new OutputLimitError(this.limit)
    this.chunks.push(bytes.slice())
    this.length += bytes.length
  }

  toBuffer(): Buffer {
    return this.chunks.length === 1 ? Buffer.from(this.chunks[0]!.buffer, this.chunks[0]!.byteOffset, this.length) : Buffer.concat(this.chunks, this.length)
  }
}

export interface WasiCallContext {
  args: string[]
  /** "KEY=value" strings */
  env: string[]
  stdin: Uint8Array
  stdout: OutputBuffer
  stderr: OutputBuffer
  preopens: Preopen[]
  /** Date.now() based; sleeps stop here */
  deadline: number
}

type OpenFile =
  | { kind: 'stdin' }
  | { kind: 'stdout' }
  | { kind: 'stderr' }
  | { kind: 'preopen'; node: FsNode; guestPath: string }
  | { kind: 'node'; node: FsNode; offset: number; dirCookie?: number }

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/**
 * One WASI implementation per instance. `imports` is passed to instantiation; `bindMemory` is
 * called once the instance exists; `begin` installs the next call's context.
 */
export class WasiPreview1 {
  private memory: WebAssembly.Memory | undefined
  private view: DataView | undefined
  private bytes: Uint8Array | undefined
  private ctx: WasiCallContext | undefined
  private fds: (OpenFile | undefined)[] = []
  private stdinOffset = 0
  private argsEncoded: Uint8Array[] | undefined
  private envEncoded: Uint8Array[] | undefined
  readonly imports: Record<string, (...args: never[]) => number | void>

  constructor() {
    this.imports = this.buildImports()
  }

  bindMemory(memory: WebAssembly.Memory): void {
    if (this.memory === memory) return
    this.memory = memory
    this.view = undefined
  }

  begin(ctx: WasiCallContext): void {
    this.ctx = ctx
    this.stdinOffset = 0
    this.argsEncoded = undefined
    this.envEncoded = undefined
    this.fds = [{ kind: 'stdin' }, { kind: 'stdout' }, { kind: 'stderr' }]
    for (const p of ctx.preopens) this.fds.push({ kind: 'preopen', node: p.root, guestPath: p.guestPath })
  }

  /** Forgets everything of the call that ended: its environment, args, stdin position and fds. */
  end(): void {
    this.ctx = undefined
    this.fds = []
    this.stdinOffset = 0
    this.argsEncoded = undefined
    this.envEncoded = undefined
  }

  private mem(): DataView {
    // outside a call (a start function run while the next instance is made) no memory is ours to write
    this.call()
    const buf = this.memory!.buffer
    if (this.view === undefined || this.view.buffer !== buf) {
      this.view = new DataView(buf)
      this.bytes = new Uint8Array(buf)
    }
    return this.view
  }

  private u8(): Uint8Array {
    this.mem()
    return this.bytes!
  }

  private call(): WasiCallContext {
    if (!this.ctx) throw new Error('WASI call outside an invocation')
    return this.ctx
  }

  private buildImports(): Record<string, (...args: never[]) => number | void> {
    const self = this
    const strings = (list: Uint8Array[], ptrs: number, buf: number): number => {
      const v = self.mem()
      const m = self.u8()
      let p = buf
      list.forEach((s, i) => {
        v.setUint32(ptrs + i * 4, p, true)
        m.set(s, p)
        m[p + s.length] = 0
        p += s.length + 1
      })
      return ERRNO.SUCCESS
    }
    const sizes = (list: Uint8Array[], countPtr: number, sizePtr: number): number => {
      const v = self.mem()
      v.setUint32(countPtr, list.length, true)
      v.setUint32(sizePtr, list.reduce((n, s) => n + s.length + 1, 0), true)
      return ERRNO.SUCCESS
    }
    const args = () => (self.argsEncoded ??= self.call().args.map((a) => encoder.encode(a)))
    const env = () => (self.envEncoded ??= self.call().env.map((a) => encoder.encode(a)))

    return {
      args_get: (argv: number, buf: number) => strings(args(), argv, buf),
      args_sizes_get: (count: number, size: number) => sizes(args(), count, size),
      environ_get: (envp: number, buf: number) => strings(env(), envp, buf),
      environ_sizes_get: (count: number, size: number) => sizes(env(), count, size),

      clock_res_get: (_id: number, out: number) => {
        self.mem().setBigUint64(out, 1000n, true)
        return ERRNO.SUCCESS
      },
      clock_time_get: (id: number, _precision: bigint, out: number) => {
        const ns = id === 0 ? BigInt(Date.now()) * 1_000_000n : process.hrtime.bigint()
        self.mem().setBigUint64(out, ns, true)
        return ERRNO.SUCCESS
      },

      fd_read: (fd: number, iovs: number, iovsLen: number, nread: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        let source: Uint8Array
        let offset: number
        if (f.kind === 'stdin') {
          source = self.call().stdin
          offset = self.stdinOffset
        } else if (f.kind === 'node' && f.node.kind === 'file') {
          source = f.node.data
          offset = f.offset
        } else if (f.kind === 'node' || f.kind === 'preopen') {
          return ERRNO.ISDIR
        } else {
          return ERRNO.BADF
        }
        const v = self.mem()
        const m = self.u8()
        let total = 0
        for (let i = 0; i < iovsLen && offset < source.length; i++) {
          const ptr = v.getUint32(iovs + i * 8, true)
          const len = v.getUint32(iovs + i * 8 + 4, true)
          const n = Math.min(len, source.length - offset)
          m.set(source.subarray(offset, offset + n), ptr)
          offset += n
          total += n
        }
        if (f.kind === 'stdin') self.stdinOffset = offset
        else if (f.kind === 'node') f.offset = offset
        v.setUint32(nread, total, true)
        return ERRNO.SUCCESS
      },

      fd_pread: (fd: number, iovs: number, iovsLen: number, offset: bigint, nread: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        if (f.kind !== 'node' || f.node.kind !== 'file') return f.kind === 'stdin' ? ERRNO.SPIPE : ERRNO.BADF
        const data = f.node.data
        const v = self.mem()
        const m = self.u8()
        let off = Number(offset)
        let total = 0
        for (let i = 0; i < iovsLen && off < data.length; i++) {
          const ptr = v.getUint32(iovs + i * 8, true)
          const len = v.getUint32(iovs + i * 8 + 4, true)
          const n = Math.min(len, data.length - off)
          m.set(data.subarray(off, off + n), ptr)
          off += n
          total += n
        }
        v.setUint32(nread, total, true)
        return ERRNO.SUCCESS
      },

      fd_write: (fd: number, iovs: number, iovsLen: number, nwritten: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        if (f.kind !== 'stdout' && f.kind !== 'stderr') return f.kind === 'stdin' ? ERRNO.BADF : ERRNO.ROFS
        const out = f.kind === 'stdout' ? self.call().stdout : self.call().stderr
        const v = self.mem()
        const m = self.u8()
        let total = 0
        for (let i = 0; i < iovsLen; i++) {
          const ptr = v.getUint32(iovs + i * 8, true)
          const len = v.getUint32(iovs + i * 8 + 4, true)
          if (len === 0) continue
          out.push(m.subarray(ptr, ptr + len))
          total += len
        }
        v.setUint32(nwritten, total, true)
        return ERRNO.SUCCESS
      },
      fd_pwrite: () => ERRNO.ROFS,

      fd_seek: (fd: number, offset: bigint, whence: number, newOffset: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        if (f.kind !== 'node' || f.node.kind !== 'file') return f.kind === 'preopen' || f.kind === 'node' ? ERRNO.ISDIR : ERRNO.SPIPE
        const base = whence === 0 ? 0 : whence === 1 ? f.offset : whence === 2 ? f.node.data.length : -1
        if (base < 0) return ERRNO.INVAL
        const next = base + Number(offset)
        if (next < 0) return ERRNO.INVAL
        f.offset = next
        self.mem().setBigUint64(newOffset, BigInt(next), true)
        return ERRNO.SUCCESS
      },
      fd_tell: (fd: number, out: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        if (f.kind !== 'node') return ERRNO.SPIPE
        self.mem().setBigUint64(out, BigInt(f.offset), true)
        return ERRNO.SUCCESS
      },

      fd_close: (fd: number) => {
        if (!self.fds[fd]) return ERRNO.BADF
        self.fds[fd] = undefined
        return ERRNO.SUCCESS
      },

      fd_fdstat_get: (fd: number, out: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        const v = self.mem()
        let type: number = FILETYPE.CHARACTER_DEVICE
        let rights = RIGHTS_ALL
        if (f.kind === 'preopen' || (f.kind === 'node' && f.node.kind === 'dir')) {
          type = FILETYPE.DIRECTORY
          rights = RIGHTS_READ_ONLY
        } else if (f.kind === 'node') {
          type = FILETYPE.REGULAR_FILE
          rights = RIGHTS_READ_ONLY
        }
        v.setUint8(out, type)
        v.setUint16(out + 2, 0, true)
        // stdio carries the seek/tell rights so wasi-libc treats it as a pipe (fully buffered), not a tty
        v.setBigUint64(out + 8, rights, true)
        v.setBigUint64(out + 16, rights, true)
        return ERRNO.SUCCESS
      },
      fd_fdstat_set_flags: (fd: number) => (self.fds[fd] ? ERRNO.SUCCESS : ERRNO.BADF),
      fd_fdstat_set_rights: (fd: number) => (self.fds[fd] ? ERRNO.SUCCESS : ERRNO.BADF),

      fd_filestat_get: (fd: number, out: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        if (f.kind === 'node' || f.kind === 'preopen') writeFilestat(self.mem(), out, f.node)
        else writeFilestat(self.mem(), out, undefined)
        return ERRNO.SUCCESS
      },
      fd_filestat_set_size: () => ERRNO.ROFS,
      fd_filestat_set_times: () => ERRNO.ROFS,
      fd_advise: (fd: number) => (self.fds[fd] ? ERRNO.SUCCESS : ERRNO.BADF),
      fd_allocate: () => ERRNO.ROFS,
      fd_datasync: (fd: number) => (self.fds[fd] ? ERRNO.SUCCESS : ERRNO.BADF),
      fd_sync: (fd: number) => (self.fds[fd] ? ERRNO.SUCCESS : ERRNO.BADF),
      fd_renumber: (from: number, to: number) => {
        if (!self.fds[from] || !self.fds[to]) return ERRNO.BADF
        self.fds[to] = self.fds[from]
        self.fds[from] = undefined
        return ERRNO.SUCCESS
      },

      fd_prestat_get: (fd: number, out: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        if (f.kind !== 'preopen') return ERRNO.BADF
        const v = self.mem()
        v.setUint8(out, 0)
        v.setUint32(out + 4, encoder.encode(f.guestPath).length, true)
        return ERRNO.SUCCESS
      },
      fd_prestat_dir_name: (fd: number, path: number, len: number) => {
        const f = self.fds[fd]
        if (!f || f.kind !== 'preopen') return ERRNO.BADF
        const name = encoder.encode(f.guestPath)
        self.u8().set(name.subarray(0, len), path)
        return ERRNO.SUCCESS
      },

      fd_readdir: (fd: number, buf: number, bufLen: number, cookie: bigint, used: number) => {
        const f = self.fds[fd]
        if (!f) return ERRNO.BADF
        const node = f.kind === 'node' || f.kind === 'preopen' ? f.node : undefined
        if (!node || node.kind !== 'dir') return ERRNO.NOTDIR
        const v = self.mem()
        const m = self.u8()
        const entries = [...node.children.entries()]
        let written = 0
        for (let i = Number(cookie); i < entries.length && written < bufLen; i++) {
          const [name, child] = entries[i]!
          const nameBytes = encoder.encode(name)
          const header = new Uint8Array(24)
          const hv = new DataView(header.buffer)
          hv.setBigUint64(0, BigInt(i + 1), true)
          hv.setBigUint64(8, BigInt(child.ino), true)
          hv.setUint32(16, nameBytes.length, true)
          hv.setUint8(20, child.kind === 'dir' ? FILETYPE.DIRECTORY : FILETYPE.REGULAR_FILE)
          const entry = new Uint8Array(24 + nameBytes.length)
          entry.set(header)
          entry.set(nameBytes, 24)
          const n = Math.min(entry.length, bufLen - written)
          m.set(entry.subarray(0, n), buf + written)
          written += n
        }
        v.setUint32(used, written, true)
        return ERRNO.SUCCESS
      },

      path_open: (dirfd: number, _dirflags: number, pathPtr: number, pathLen: number, oflags: number, rightsBase: bigint, _rightsInh: bigint, fdflags: number, fdOut: number) => {
        const dir = self.fds[dirfd]
        if (!dir) return ERRNO.BADF
        const base = dir.kind === 'preopen' || dir.kind === 'node' ? dir.node : undefined
        if (!base || base.kind !== 'dir') return ERRNO.NOTDIR
        const rel = decoder.decode(self.u8().subarray(pathPtr, pathPtr + pathLen))
        const node = resolvePath(base, rel)
        if (node === 'escape') return ERRNO.NOTCAPABLE
        if (oflags & (OFLAGS_CREAT | OFLAGS_TRUNC | OFLAGS_EXCL) || fdflags & FDFLAGS_APPEND) {
          return node ? (oflags & OFLAGS_EXCL ? ERRNO.EXIST : ERRNO.ROFS) : ERRNO.ROFS
        }
        if (!node) return ERRNO.NOENT
        if (oflags & OFLAGS_DIRECTORY && node.kind !== 'dir') return ERRNO.NOTDIR
        if (node.kind === 'file' && (rightsBase & WRITE_RIGHTS) !== 0n && (rightsBase & 0x2n) === 0n) return ERRNO.ROFS
        self.fds.push({ kind: 'node', node, offset: 0 })
        self.mem().setUint32(fdOut, self.fds.length - 1, true)
        return ERRNO.SUCCESS
      },
      path_filestat_get: (dirfd: number, _flags: number, pathPtr: number, pathLen: number, out: number) => {
        const dir = self.fds[dirfd]
        if (!dir) return ERRNO.BADF
        const base = dir.kind === 'preopen' || dir.kind === 'node' ? dir.node : undefined
        if (!base || base.kind !== 'dir') return ERRNO.NOTDIR
        const node = resolvePath(base, decoder.decode(self.u8().subarray(pathPtr, pathPtr + pathLen)))
        if (node === 'escape') return ERRNO.NOTCAPABLE
        if (!node) return ERRNO.NOENT
        writeFilestat(self.mem(), out, node)
        return ERRNO.SUCCESS
      },
      path_filestat_set_times: () => ERRNO.ROFS,
      path_create_directory: () => ERRNO.ROFS,
      path_link: () => ERRNO.ROFS,
      path_readlink: () => ERRNO.INVAL,
      path_remove_directory: () => ERRNO.ROFS,
      path_rename: () => ERRNO.ROFS,
      path_symlink: () => ERRNO.ROFS,
      path_unlink_file: () => ERRNO.ROFS,

      poll_oneoff: (inPtr: number, outPtr: number, nsubs: number, neventsPtr: number) => {
        const v = self.mem()
        let timeoutNs: bigint | undefined
        let events = 0
        const writeEvent = (userdata: bigint, type: number, errno: number) => {
          const o = outPtr + events * 32
          v.setBigUint64(o, userdata, true)
          v.setUint16(o + 8, errno, true)
          v.setUint8(o + 10, type)
          v.setBigUint64(o + 16, 0n, true)
          v.setUint16(o + 24, 0, true)
          events++
        }
        const clocks: { userdata: bigint; ns: bigint }[] = []
        for (let i = 0; i < nsubs; i++) {
          const s = inPtr + i * 48
          const userdata = v.getBigUint64(s, true)
          const tag = v.getUint8(s + 8)
          if (tag === 0) {
            const id = v.getUint32(s + 16, true)
            let ns = v.getBigUint64(s + 24, true)
            const absolute = (v.getUint16(s + 40, true) & 1) === 1
            if (absolute) {
              const now = id === 0 ? BigInt(Date.now()) * 1_000_000n : process.hrtime.bigint()
              ns = ns > now ? ns - now : 0n
            }
            clocks.push({ userdata, ns })
            timeoutNs = timeoutNs === undefined || ns < timeoutNs ? ns : timeoutNs
          } else {
            // fd_read / fd_write: in-memory streams are always ready
            writeEvent(userdata, tag, self.fds[v.getUint32(s + 16, true)] ? ERRNO.SUCCESS : ERRNO.BADF)
          }
        }
        if (events === 0 && timeoutNs !== undefined) {
          const ms = Number(timeoutNs / 1_000_000n)
          const left = self.call().deadline - Date.now()
          if (ms >= left) {
            if (left > 0) Atomics.wait(sleeper, 0, 0, left)
            throw new DeadlineError()
          }
          if (ms > 0) Atomics.wait(sleeper, 0, 0, ms)
          for (const c of clocks) if (c.ns === timeoutNs) writeEvent(c.userdata, 0, ERRNO.SUCCESS)
        }
        v.setUint32(neventsPtr, events, true)
        return ERRNO.SUCCESS
      },

      proc_exit: (code: number) => {
        throw new WasiExit(code)
      },
      proc_raise: () => ERRNO.NOSYS,
      sched_yield: () => ERRNO.SUCCESS,
      random_get: (buf: number, len: number) => {
        randomFillSync(self.u8(), buf, len)
        return ERRNO.SUCCESS
      },
      sock_accept: () => ERRNO.NOTSUP,
      sock_recv: () => ERRNO.NOTSUP,
      sock_send: () => ERRNO.NOTSUP,
      sock_shutdown: () => ERRNO.NOTSUP,
    }
  }
}

function writeFilestat(v: DataView, out: number, node: FsNode | undefined): void {
  for (let i = 0; i < 64; i += 8) v.setBigUint64(out + i, 0n, true)
  if (!node) {
    v.setUint8(out + 16, FILETYPE.CHARACTER_DEVICE)
    return
  }
  v.setBigUint64(out + 8, BigInt(node.ino), true)
  v.setUint8(out + 16, node.kind === 'dir' ? FILETYPE.DIRECTORY : FILETYPE.REGULAR_FILE)
  v.setBigUint64(out + 24, 1n, true)
  v.setBigUint64(out + 32, BigInt(node.kind === 'file' ? node.data.length : 0), true)
}

/** The preview1 functions kindling implements: a module may import only these from WASI. */
export const WASI_FUNCTIONS: ReadonlySet<string> = new Set(Object.keys(new WasiPreview1().imports))
