// The app host: one OS process per application, started and supervised by the gateway. It reads
// frames from fd 3, runs the application's functions and writes results back. When the gateway
// goes away (fd 3 closes), the host exits, so a killed gateway leaves no orphans.
import fs from 'node:fs'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import type { InvokeRequest } from '../tier.js'
import { type HostFunction, hostKind, type LoadRequest, registerHostKind, setCancelPoll } from './host-kinds.js'
import { encodeFrameParts, FRAME, type Frame, FrameDecoder, type InvokeMeta, type ResultMeta } from './protocol.js'
import { loadWasmFunction } from './wasm-kind.js'
import { applyWasmV8Flags } from '../wasm/v8-flags.js'
import { isErrorCode } from '../errors.js'

applyWasmV8Flags()

registerHostKind('wasm', loadWasmFunction)
for (const arg of process.argv.slice(2)) {
  const extra = arg.startsWith('--kind=') ? arg.slice('--kind='.length) : undefined
  if (!extra) continue
  // further kinds (worker threads) register themselves when imported
  await import(extra)
}

const functions = new Map<string, HostFunction>()
const sandboxOwner = new Map<string, HostFunction>()
const dirty = new Set<string>()
let cleanupScheduled = false
/** sandbox of each INVOKE under way, by frame id (a CANCEL names the INVOKE's id) */
const inflight = new Map<number, string>()
/** frame id of the call a sync sandbox runs on this thread right now (0: none) */
let syncCall = 0
/** frames read while a sync call ran: handled after it, in order */
const deferred: Frame[] = []

const socket = new net.Socket({ fd: 3, readable: true, writable: true })
socket.setNoDelay?.(true)
const decoder = new FrameDecoder()

function send(type: number, id: number, meta: unknown, payload?: Buffer): void {
  // head and body in one writev, the body without a copy
  const [head, body] = encodeFrameParts(type, id, meta, payload)
  socket.cork()
  socket.write(head)
  if (body.length) socket.write(body)
  socket.uncork()
}

function fail(id: number, e: unknown): void {
  const given = (e as { code?: unknown } | null)?.code
  const code = isErrorCode(given) ? given : 'KINDLING_ERR_SANDBOX_FAILED'
  const message = e instanceof Error ? e.message : String(e)
  send(FRAME.ERROR, id, { code, message })
}

function scheduleCleanup(sb: string): void {
  dirty.add(sb)
  if (cleanupScheduled) return
  cleanupScheduled = true
  setImmediate(() => {
    cleanupScheduled = false
    for (const id of dirty) sandboxOwner.get(id)?.cleanup?.(id)
    dirty.clear()
  })
}

/** INVOKE frames taken so far (usage: tells whether another call started during one) */
let invokesStarted = 0

async function handle(f: Frame): Promise<void> {
  switch (f.type) {
    case FRAME.INVOKE: {
      const m = f.meta as InvokeMeta
      const fn = sandboxOwner.get(m.sb)
      if (!fn) return fail(f.id, new Error(`sandbox ${m.sb} is not in this host`))
      const req: InvokeRequest = { callId: m.callId, method: m.method, path: m.path, query: m.query, headers: m.headers, body: f.payload, deadline: m.deadline }
      inflight.set(f.id, m.sb)
      // usage: this process's CPU during the call is the call's when no other call ran here
      // meanwhile (always so in a process-tier sandbox; in a shared app host, most of the time)
      const alone = inflight.size === 1
      const seq = ++invokesStarted
      const cpu0 = process.cpuUsage()
      let r
      let cpuUs: number | undefined
      try {
        syncCall = f.id
        let out
        try {
          out = fn.invoke(m.sb, req)
        } finally {
          syncCall = 0
        }
        r = out instanceof Promise ? await out : out
        if (alone && invokesStarted === seq) {
          const d = process.cpuUsage(cpu0)
          cpuUs = d.user + d.system
        }
      } finally {
        inflight.delete(f.id)
      }
      const meta: ResultMeta = { status: r.status, headers: r.headers, stderr: r.stderr, errorCode: r.errorCode, timings: r.timings, cpuUs, hops: r.hops }
      send(FRAME.RESULT, f.id, meta, r.body)
      if (fn.cleanup) scheduleCleanup(m.sb)
      return
    }
    case FRAME.SPAWN: {
      const { fnId, sb } = f.meta as { fnId: string; sb: string }
      const fn = functions.get(fnId)
      if (!fn) return fail(f.id, new Error(`function ${fnId} is not loaded in this host`))
      const t0 = performance.now()
      const instantiateUs = await fn.spawn(sb)
      sandboxOwner.set(sb, fn)
      send(FRAME.OK, f.id, { instantiateUs, spawnUs: (performance.now() - t0) * 1000 })
      return
    }
    case FRAME.DISPOSE: {
      const { sb } = f.meta as { sb: string }
      sandboxOwner.get(sb)?.dispose(sb)
      sandboxOwner.delete(sb)
      dirty.delete(sb)
      send(FRAME.OK, f.id, {})
      return
    }
    case FRAME.KILL: {
      const { sb } = f.meta as { sb: string }
      const fn = sandboxOwner.get(sb)
      if (!fn?.kill) return fail(f.id, new Error(`sandbox ${sb} has no worker of its own to kill`))
      await fn.kill(sb)
      send(FRAME.OK, f.id, {})
      return
    }
    case FRAME.LOAD: {
      const req = f.meta as LoadRequest
      const loader = hostKind(req.kind)
      if (!loader) return fail(f.id, new Error(`this app host cannot run sandbox kind ${req.kind}`))
      const t0 = performance.now()
      const old = functions.get(req.fnId)
      if (!old) functions.set(req.fnId, await loader(req))
      send(FRAME.OK, f.id, { compileUs: (performance.now() - t0) * 1000 })
      return
    }
    case FRAME.UNLOAD: {
      const { fnId } = f.meta as { fnId: string }
      const fn = functions.get(fnId)
      if (fn) {
        for (const [sb, owner] of sandboxOwner) if (owner === fn) sandboxOwner.delete(sb)
        await fn.unload()
        functions.delete(fnId)
      }
      send(FRAME.OK, f.id, {})
      return
    }
    case FRAME.PING:
      send(FRAME.OK, f.id, undefined)
      return
    case FRAME.STATS: {
      const mem = process.memoryUsage()
      let sandboxes = 0
      for (const fn of functions.values()) sandboxes += fn.sandboxCount
      send(FRAME.OK, f.id, { pid: process.pid, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, functions: functions.size, sandboxes })
      return
    }
    default:
      fail(f.id, new Error(`unknown frame type ${f.type}`))
  }
}

/** The caller of INVOKE `id` hung up: its sandbox stops the call (an answer still follows). */
function cancel(id: number): void {
  const sb = inflight.get(id)
  if (sb !== undefined) return sandboxOwner.get(sb)?.cancel?.(sb)
  // not started yet: its INVOKE still waits behind a running call, so it is dropped and answered now
  const waiting = deferred.findIndex((f) => f.id === id && f.type === FRAME.INVOKE)
  if (waiting < 0) return
  deferred.splice(waiting, 1)
  fail(id, Object.assign(new Error('the client hung up before the call started'), { code: 'KINDLING_ERR_CALL_CANCELLED' }))
}

function onFrame(f: Frame): void {
  if (f.type === FRAME.CANCEL) return cancel(f.id)
  if (syncCall !== 0 || deferred.length > 0) {
    if (deferred.push(f) === 1) setImmediate(runDeferred)
    return
  }
  handle(f).catch((e) => fail(f.id, e))
}

function runDeferred(): void {
  while (deferred.length > 0 && syncCall === 0) {
    const f = deferred.shift()!
    handle(f).catch((e) => fail(f.id, e))
  }
}

/**
 * Called from a running guest's interrupt check: reads what has arrived on the socket (it is
 * non-blocking), acts on CANCEL frames now and keeps the others for after the call. The decoder is
 * consistent whenever a frame is being handled, so pushing into it from inside that handling is safe.
 */
const pollBuffer = Buffer.allocUnsafe(64 * 1024)
setCancelPoll(() => {
  let n = 0
  try {
    n = fs.readSync(3, pollBuffer, 0, pollBuffer.length, null)
  } catch {
    // EAGAIN: nothing more has arrived; frames read with the call's own may still wait in the decoder
  }
  decoder.push(n > 0 ? Buffer.from(pollBuffer.subarray(0, n)) : Buffer.alloc(0), onFrame)
})

socket.on('data', (chunk: Buffer) => {
  socket.cork()
  try {
    decoder.push(chunk, onFrame)
  } finally {
    process.nextTick(() => socket.uncork())
  }
})
socket.on('close', () => process.exit(0))
socket.on('error', () => process.exit(0))
send(FRAME.READY, 0, { pid: process.pid })
