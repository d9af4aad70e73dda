// Shared pieces of the operations tests: small WASI functions written in WAT, a real HTTP callback
// server on loopback, and polling with a deadline.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { wat } from '../../helpers/wat.js'

/** A WASI command that sleeps `ms` (poll_oneoff on a relative clock) and then prints "slept". */
export function sleeperModule(ms: number): Promise<Uint8Array> {
  return wat(`(module
    (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 512) "slept")
    (func (export "_start")
      ;; one clock subscription at 0: userdata 0, tag 0 (clock), id 1 (monotonic), timeout in ns, flags 0
      (i64.store (i32.const 0) (i64.const 0))
      (i32.store8 (i32.const 8) (i32.const 0))
      (i32.store (i32.const 16) (i32.const 1))
      (i64.store (i32.const 24) (i64.const ${BigInt(ms) * 1_000_000n}))
      (i64.store (i32.const 32) (i64.const 0))
      (i32.store16 (i32.const 40) (i32.const 0))
      (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
      (i32.store (i32.const 256) (i32.const 512))
      (i32.store (i32.const 260) (i32.const 5))
      (drop (call $write (i32.const 1) (i32.const 256) (i32.const 1) (i32.const 264)))))`)
}

/**
 * A WASI command that answers "Status: 500" until the time in its body (8 bytes, little-endian
 * milliseconds since the epoch) has passed, then "Status: 200": a function that fails, then works.
 */
export function flakyModule(): Promise<Uint8Array> {
  return wat(`(module
    (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 1024) "Status: 500\\n\\nnot yet\\n")
    (data (i32.const 1100) "Status: 200\\n\\nok\\n")
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 64))
      (i32.store (i32.const 4) (i32.const 8))
      (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
      (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 32)))
      (if (i64.lt_u (i64.div_u (i64.load (i32.const 32)) (i64.const 1000000)) (i64.load (i32.const 64)))
        (then (i32.store (i32.const 8) (i32.const 1024)) (i32.store (i32.const 12) (i32.const 21)))
        (else (i32.store (i32.const 8) (i32.const 1100)) (i32.store (i32.const 12) (i32.const 16))))
      (drop (call $write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 20)))))`)
}

/** The body for flakyModule: fail until `untilMs`. */
export function failUntil(untilMs: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(untilMs))
  return b
}

/** A WASI command that writes one line to stderr and answers "ok". */
export function stderrModule(line: string): Promise<Uint8Array> {
  const text = `${line}\n`
  return wat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 512) ${JSON.stringify(text)})
    (data (i32.const 768) "ok")
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 512))
      (i32.store (i32.const 4) (i32.const ${Buffer.byteLength(text)}))
      (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 16)))
      (i32.store (i32.const 0) (i32.const 768))
      (i32.store (i32.const 4) (i32.const 2))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))`)
}

export interface Received {
  headers: http.IncomingHttpHeaders
  body: Buffer
  at: number
}

export interface CallbackServer {
  url: string
  received: Received[]
  /** answer these statuses first, in order, then 200 */
  failFirst: number[]
  /** resolves once `n` callbacks have arrived */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>
  close(): Promise<void>
}

export async function startCallbackServer(): Promise<CallbackServer> {
  const received: Received[] = []
  const waiters: { n: number; resolve: () => void }[] = []
  const cb: CallbackServer = {
    url: '',
    received,
    failFirst: [],
    async waitFor(n, timeoutMs = 10_000) {
      if (received.length >= n) return received
      await new Promise<void>((resolve, reject) => {
        const w = { n, resolve }
        waiters.push(w)
        setTimeout(() => reject(new Error(`${received.length} of ${n} callbacks arrived within ${timeoutMs} ms`)), timeoutMs).unref()
      })
      return received
    },
    close: () => new Promise<void>((res) => {
      server.closeAllConnections()
      server.close(() => res())
    }),
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const fail = cb.failFirst.shift()
      if (fail) {
        res.writeHead(fail).end()
        return
      }
      received.push({ headers: req.headers, body: Buffer.concat(chunks), at: Date.now() })
      res.writeHead(200).end()
      for (const w of [...waiters]) if (received.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    })
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()))
  cb.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`
  return cb
}

/** Polls `check` until it returns a truthy value or the time is up. */
export async function waitUntil<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v) return v as NonNullable<T>
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
