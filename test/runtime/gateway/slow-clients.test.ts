import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { sleeperModule } from '../ops/helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('slow clients cannot take the gateway\'s connections', () => {
  let k: TestKindling
  let port: number
  before(async () => {
    k = await startKindling({ maxConnections: 20, headersTimeoutMs: 600, requestTimeoutMs: 1200, keepAliveTimeoutMs: 2000 })
    port = Number(new URL(await k.listen()).port)
  })
  after(() => k.cleanup())

  const get = (path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 3000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })

  /** sockets that send `text` one byte every 100 ms; each records when the server closed it */
  const trickle = (n: number, text: string) => Array.from({ length: n }, () => {
    const s = net.connect(port, '127.0.0.1')
    const state = { closed: false, pos: 0 }
    s.on('error', () => {})
    s.on('close', () => (state.closed = true))
    const timer = setInterval(() => {
      if (state.closed || state.pos >= text.length) return clearInterval(timer)
      s.write(text[state.pos++]!)
    }, 100)
    return { s, state, stop: () => { clearInterval(timer); s.destroy() } }
  })

  it('serves a normal client while more slow clients than the connection limit trickle headers, and closes them', async () => {
    const slow = trickle(40, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`)
    try {
      await sleep(300)
      let served = 0
      for (let i = 0; i < 20 && served < 3; i++) {
        const r = await get('/healthz').catch(() => undefined)
        if (r?.status === 200) served++
        await sleep(100)
      }
      assert.equal(served, 3, 'a normal client got answers during the attack')
      for (let i = 0; i < 100 && slow.some((c) => !c.state.closed); i++) await sleep(100)
      assert.deepEqual(slow.filter((c) => !c.state.closed).length, 0, 'the gateway closed every trickling connection')
      assert.ok(slow.every((c) => c.state.pos < 200), 'none finished its headers')
    } finally {
      for (const c of slow) c.stop()
    }
  })

  it('closes a connection that trickles its body past the request timeout', async () => {
    const [c] = trickle(1, `POST /function/nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${'b'.repeat(1000)}`)
    try {
      for (let i = 0; i < 60 && !c!.state.closed; i++) await sleep(100)
      assert.ok(c!.state.closed, 'closed by the server')
    } finally {
      c!.stop()
    }
  })

  it('does not cut a call that runs longer than the request timeout', async () => {
    await k.deploy('sleepy', await sleeperModule(1500))
    const r = await get('/function/sleepy')
    assert.equal(r.status, 200)
    assert.equal(r.body, 'slept')
  })
})

describe('a client that does not read its answer', () => {
  let k: TestKindling
  let port: number
  before(async () => {
    k = await startKindling({ headersTimeoutMs: 500, requestTimeoutMs: 1500, maxBodyBytes: 32 * 1024 * 1024 })
    port = Number(new URL(await k.listen()).port)
    await k.deploy('cat', exampleModule('cat'))
  })
  after(() => k.cleanup())

  it('gives its request bytes back when the call ends and loses its connection after the response timeout', async () => {
    const body = Buffer.alloc(24 * 1024 * 1024, 'z')
    const s = net.connect(port, '127.0.0.1')
    let closed = false
    let received = 0
    s.on('error', () => {})
    s.on('close', () => (closed = true))
    let paused = false
    s.on('data', (d: Buffer) => {
      received += d.length
      // read the first bytes, then stop reading: the kernel buffers fill and the gateway's write stalls
      if (!paused) s.pause()
      paused = true
    })
    s.write(`POST /function/cat HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`)
    s.write(body)
    try {
      for (let i = 0; i < 300 && received === 0; i++) await sleep(50)
      assert.ok(received > 0, 'the answer started')
      assert.equal(k.inflight.bytes, 0, 'the body went back to the bound when the call ended')
      // the client does not read, so it would not see the close: ask the server
      const connections = () => new Promise<number>((resolve) => k.app.server.getConnections((_e, n) => resolve(n)))
      for (let i = 0; i < 200 && (await connections()) > 0; i++) await sleep(50)
      assert.equal(await connections(), 0, 'the gateway closed the connection of the client that did not read')
      s.resume()
      for (let i = 0; i < 200 && !closed; i++) await sleep(50)
      assert.ok(closed)
      assert.ok(received < body.length, `received ${received} of ${body.length}`)
    } finally {
      s.destroy()
    }
  })
})
