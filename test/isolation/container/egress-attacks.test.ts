// The egress proxy and its forwarder as a hostile container function would attack them (issue 13
// item 1, security review), without a container: raw bytes on the proxy's Unix socket (what the
// forwarder hands over), and the forwarder as a real process listening on loopback. Targets are
// servers this test starts on 127.0.0.1.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BUSY_RESPONSE, EGRESS_MAX_CONNECTIONS, EgressProxy } from '../../../isolation/container/egress-proxy.js'
import { forwarderScriptPath } from '../../../isolation/container/cleanup.js'
import { parseOutbound } from '../../../isolation/wasm/host/outbound-grants.js'
import { eventually } from './helpers.js'

const CAP = 4096

interface Target {
  server: net.Server
  port: number
  /** request lines (HTTP) or 'tunnel' (raw) that arrived */
  hits: string[]
  /** bytes that arrived, all connections */
  received: number
}

/** An HTTP target that drains what it gets and answers 200 "ok" once the body has ended. */
async function httpTarget(): Promise<Target> {
  const t: Target = { server: http.createServer(), port: 0, hits: [], received: 0 }
  t.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    t.hits.push(`${req.method} ${req.url}`)
    req.on('data', (c: Buffer) => (t.received += c.length))
    req.on('end', () => res.end('ok'))
  })
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', r))
  t.port = (t.server.address() as net.AddressInfo).port
  return t
}

/** A raw TCP target standing for a TLS server behind CONNECT: counts what comes through the tunnel. */
async function rawTarget(): Promise<Target> {
  const t: Target = { server: net.createServer(), port: 0, hits: [], received: 0 }
  t.server.on('connection', (s: net.Socket) => {
    t.hits.push('tunnel')
    s.on('data', (c: Buffer) => (t.received += c.length))
    s.on('error', () => {})
  })
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', r))
  t.port = (t.server.address() as net.AddressInfo).port
  return t
}

async function stop(t: Target): Promise<void> {
  if (t.server instanceof http.Server) t.server.closeAllConnections()
  await new Promise<void>((r) => t.server.close(() => r()))
}

/** Writes `send` (then each of `more`) on one connection; resolves with all it read once the proxy closes it (or after `ms`). */
function exchange(sock: string | number, send: string | Buffer, opts: { more?: Buffer[]; afterAnswer?: Buffer[]; ms?: number } = {}): Promise<{ out: string; closed: boolean }> {
  return new Promise((resolve) => {
    const c = typeof sock === 'number' ? net.connect(sock, '127.0.0.1') : net.connect(sock)
    let out = ''
    const timer = setTimeout(() => (c.destroy(), resolve({ out, closed: false })), opts.ms ?? 5000)
    let answered = false
    c.on('data', (d: Buffer) => {
      out += d.toString('latin1')
      if (!answered) for (const m of opts.afterAnswer ?? []) c.write(m)
      answered = true
    })
    c.on('error', () => {})
    c.on('close', () => (clearTimeout(timer), resolve({ out, closed: true })))
    c.write(send)
    for (const m of opts.more ?? []) c.write(m)
  })
}

describe('egress proxy under attack', () => {
  let dir: string
  let sock: string
  let proxy: EgressProxy
  let target: Target
  let tls: Target
  /** stands for the gateway: never granted */
  let gateway: Target
  let deadline: number | undefined

  before(async () => {
    target = await httpTarget()
    tls = await rawTarget()
    gateway = await httpTarget()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-egress-attack-'))
    sock = path.join(dir, 'p.sock')
    deadline = Date.now() + 120_000
    const patterns = parseOutbound(`http://127.0.0.1:${target.port},https://127.0.0.1:${tls.port},http://*:*,https://*:*`)
    proxy = new EgressProxy({ patterns, maxResponseBytes: 1 << 20, maxRequestBytes: CAP, deadline: () => deadline }, () => {}, 300)
    await proxy.listen(sock)
  })
  after(async () => {
    proxy.close()
    await Promise.all([stop(target), stop(tls), stop(gateway)])
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('refuses a request body above KINDLING_OUTBOUND_MAX_REQUEST_BYTES with 413 and the code, declared or chunked', async () => {
    const url = `http://127.0.0.1:${target.port}`
    const declared = await exchange(sock, `POST ${url}/declared HTTP/1.1\r\nHost: x\r\nContent-Length: ${CAP + 1}\r\n\r\n${'a'.repeat(CAP + 1)}`)
    assert.match(declared.out, /^HTTP\/1\.1 413 /)
    assert.match(declared.out, /x-kindling-error: KINDLING_ERR_OUTBOUND_REQUEST_TOO_LARGE/i)
    assert.ok(declared.closed, 'the connection ends with the refusal')
    assert.ok(!target.hits.includes('POST /declared'), 'a declared length above the cap never goes out')
    // chunked: counted as it streams, cut past the cap; the target never gets more than the cap
    const chunk = (n: number): Buffer => Buffer.from(`${n.toString(16)}\r\n${'b'.repeat(n)}\r\n`)
    const before = target.received
    const chunked = await exchange(sock, `POST ${url}/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, { more: Array.from({ length: 8 }, () => chunk(1024)) })
    assert.match(chunked.out, /^HTTP\/1\.1 413 /)
    assert.match(chunked.out, /"code":"KINDLING_ERR_OUTBOUND_REQUEST_TOO_LARGE"/)
    assert.ok(target.received - before <= CAP, `${target.received - before} bytes reached the target`)
    // at the cap it goes through
    const fits = await exchange(sock, `POST ${url}/fits HTTP/1.1\r\nHost: x\r\nContent-Length: ${CAP}\r\nConnection: close\r\n\r\n${'c'.repeat(CAP)}`)
    assert.match(fits.out, /^HTTP\/1\.1 200 [^]*\r\n\r\nok$/)
  })

  it('cuts a CONNECT tunnel once the function has sent more than the cap into it', async () => {
    const before = tls.received
    const r = await exchange(sock, `CONNECT 127.0.0.1:${tls.port} HTTP/1.1\r\nHost: x\r\n\r\n`, { afterAnswer: Array.from({ length: 8 }, () => Buffer.alloc(1024, 100)) })
    assert.match(r.out, /^HTTP\/1\.1 200 Connection Established/)
    assert.ok(r.closed, 'the tunnel was cut')
    assert.ok(tls.received - before <= CAP, `${tls.received - before} bytes went through the tunnel`)
    // bytes sent with the CONNECT itself count too
    const head = await exchange(sock, Buffer.concat([Buffer.from(`CONNECT 127.0.0.1:${tls.port} HTTP/1.1\r\nHost: x\r\n\r\n`), Buffer.alloc(CAP + 1, 100)]))
    assert.match(head.out, /^HTTP\/1\.1 413 [^]*KINDLING_ERR_OUTBOUND_REQUEST_TOO_LARGE/)
    assert.ok(head.closed)
  })

  it('cuts headers that never end (slowloris) and connections that never send a byte', async () => {
    const slow = await exchange(sock, `GET http://127.0.0.1:${target.port}/ HTTP/1.1\r\nHost: x\r\nX-Slow: `)
    assert.ok(slow.closed, 'a request whose headers never end is cut at the header timeout')
    assert.match(slow.out, /^(HTTP\/1\.1 408 |)/)
    const idle = await exchange(sock, '')
    assert.ok(idle.closed, 'a connection that never sends a byte is cut too')
    const huge = await exchange(sock, `GET http://127.0.0.1:${target.port}/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`)
    assert.match(huge.out, /^HTTP\/1\.1 431 /)
  })

  it('checks each request pipelined behind a refused one, and ends the connection with the refusal', async () => {
    const ask = (u: string): string => `GET ${u} HTTP/1.1\r\nHost: x\r\n\r\n`
    const r = await exchange(sock, ask(`http://127.0.0.1:${gateway.port}/first`) + ask(`http://localhost:${gateway.port}/second`) + ask(`http://[::ffff:127.0.0.1]:${gateway.port}/third`))
    assert.match(r.out, /^HTTP\/1\.1 403 /)
    assert.ok(r.closed)
    // a refused request whose body never ends is not drained for ever: the refusal ends the connection
    const endless = await exchange(sock, `POST http://127.0.0.1:${gateway.port}/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`, { ms: 3000 })
    assert.match(endless.out, /^HTTP\/1\.1 403 /)
    assert.ok(endless.closed, 'the connection of a refused request ends')
    assert.deepEqual(gateway.hits, [])
  })

  it('refuses loopback however it is written: IPv6, IPv4-mapped, decimal, octal, hex, short forms', async () => {
    const forms = ['0x7f000001', '2130706433', '0177.0.0.1', '127.1', '127.000.000.001', '0', '0.0.0.0', '[::1]', '[::]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:127.0.0.1]', '[::127.0.0.1]', 'localhost', 'localhost.']
    for (const h of forms) {
      const c = await exchange(sock, `CONNECT ${h}:${gateway.port} HTTP/1.1\r\nHost: x\r\n\r\n`)
      assert.match(c.out, /^HTTP\/1\.1 (403|400) /, `CONNECT ${h}`)
      const g = await exchange(sock, `GET http://${h}:${gateway.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\n\r\n`)
      assert.match(g.out, /^HTTP\/1\.1 (403|400) /, `GET ${h}`)
    }
    assert.deepEqual(gateway.hits, [])
  })

  it('sends to the absolute URL\'s host, never to the Host header\'s', async () => {
    const before = target.hits.length
    const r = await exchange(sock, `GET http://127.0.0.1:${gateway.port}/x HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\n\r\n`)
    assert.match(r.out, /^HTTP\/1\.1 403 /)
    assert.equal(target.hits.length, before)
    assert.deepEqual(gateway.hits, [])
  })

  it('lets nothing out once the call has ended, on a connection opened during it', async () => {
    const c = net.connect(sock)
    await new Promise((r) => c.once('connect', r))
    const saved = deadline
    deadline = undefined
    try {
      let out = ''
      c.on('data', (d: Buffer) => (out += d.toString()))
      const before = target.hits.length
      c.write(`GET http://127.0.0.1:${target.port}/late HTTP/1.1\r\nHost: x\r\n\r\n`)
      assert.ok(await eventually(() => out.includes('\r\n\r\n')))
      assert.match(out, /^HTTP\/1\.1 403 [^]*no call of the function is in flight/)
      assert.equal(target.hits.length, before)
    } finally {
      deadline = saved
      c.destroy()
    }
  })
})

describe('egress forwarder under attack', () => {
  let dir: string
  let sock: string
  /** stands for the proxy: holds every connection open */
  let sink: net.Server
  const held: net.Socket[] = []
  let fwd: ChildProcess
  let port: number

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-egress-fwd-'))
    sock = path.join(dir, 'p.sock')
    sink = net.createServer((s) => (held.push(s), s.on('error', () => {})))
    await new Promise<void>((r) => sink.listen(sock, r))
    fwd = spawn(process.execPath, [forwarderScriptPath(), sock, '127.0.0.1', '0', 'kd-test', 'egress', Buffer.from(BUSY_RESPONSE).toString('base64')], { stdio: ['pipe', 'pipe', 'pipe'] })
    port = await new Promise<number>((resolve, reject) => {
      let out = ''
      fwd.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        const m = /ready (\d+)/.exec(out)
        if (m) resolve(Number(m[1]))
      })
      fwd.once('exit', () => reject(new Error('the forwarder exited')))
      setTimeout(() => reject(new Error('the forwarder did not say ready')), 10_000).unref()
    })
  })
  after(async () => {
    if (fwd.exitCode === null) {
      const gone = new Promise((r) => fwd.once('exit', r))
      fwd.kill('SIGKILL')
      await gone
    }
    for (const s of held) s.destroy()
    await new Promise<void>((r) => sink.close(() => r()))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const fds = (): number => fs.readdirSync(`/proc/${fwd.pid}/fd`).length

  it('answers the 33rd connection with 503 and the code, stays up and holds no descriptors afterwards', async () => {
    const base = fds()
    const clients: net.Socket[] = []
    for (let i = 0; i < EGRESS_MAX_CONNECTIONS; i++) {
      const c = net.connect(port, '127.0.0.1')
      c.on('error', () => {})
      clients.push(c)
    }
    assert.ok(await eventually(() => held.length >= EGRESS_MAX_CONNECTIONS), `${held.length} connections reached the proxy`)
    const extra = await exchange(port, `GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n`)
    assert.match(extra.out, /^HTTP\/1\.1 503 /)
    assert.match(extra.out, /x-kindling-error: KINDLING_ERR_OUTBOUND_BUSY/i)
    assert.ok(extra.closed)
    assert.equal(held.length, EGRESS_MAX_CONNECTIONS, 'the 33rd never reached the proxy')
    // the function hangs up every way it can: an RST, a close, a half-close the proxy then ends
    clients.forEach((c, i) => (i % 3 === 0 ? c.resetAndDestroy() : i % 3 === 1 ? c.destroy() : c.end()))
    for (const s of held) s.end()
    assert.ok(await eventually(() => fds() <= base), `the forwarder holds ${fds()} descriptors, ${base} before`)
    assert.equal(fwd.exitCode, null, 'the forwarder is still up')
    // and it serves again
    const again = net.connect(port, '127.0.0.1')
    again.on('error', () => {})
    const n = held.length
    assert.ok(await eventually(() => held.length > n))
    again.destroy()
  })
})

describe('HTTP-mode forwarder against a server that never closes its connections', () => {
  it('drops the server side of a connection kindling has closed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-fwd-in-'))
    const sock = path.join(dir, 'in.sock')
    // stands for a hostile function's server: answers nothing, closes nothing
    const held: net.Socket[] = []
    const server = net.createServer({ allowHalfOpen: true }, (s) => (held.push(s), s.on('error', () => {})))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    const fwd = spawn(process.execPath, [forwarderScriptPath(), sock, '127.0.0.1', String(port), 'kd-test'], { stdio: ['pipe', 'pipe', 'pipe'] })
    try {
      await new Promise<void>((resolve, reject) => {
        fwd.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve())
        fwd.once('exit', () => reject(new Error('the forwarder exited')))
        setTimeout(() => reject(new Error('the forwarder did not say ready')), 10_000).unref()
      })
      const fds = (): number => fs.readdirSync(`/proc/${fwd.pid}/fd`).length
      const base = fds()
      const n = held.length
      const clients = Array.from({ length: 8 }, () => net.connect(sock).on('error', () => {}))
      assert.ok(await eventually(() => held.length >= n + 8))
      for (const c of clients) c.end()
      assert.ok(await eventually(() => fds() <= base), `the forwarder holds ${fds()} descriptors, ${base} before`)
    } finally {
      const gone = new Promise((r) => fwd.once('exit', r))
      fwd.kill('SIGKILL')
      await gone
      for (const s of held) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
