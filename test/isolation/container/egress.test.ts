// Container network grants (issue 13 item 1) on real crun containers: a function whose
// com.kindling.outbound grants a host reaches it only through kindling's egress proxy (busybox wget
// honours http_proxy; busybox nc speaks raw proxy requests); without the grant the container stays
// loopback-only. The targets are HTTP servers this test starts on 127.0.0.1.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { EgressProxy } from '../../../isolation/container/egress-proxy.js'
import { egressEnv, egressPlan } from '../../../isolation/container/egress.js'
import { watchdogSettings } from '../../../isolation/container/watchdog.js'
import type { HttpSandbox } from '../../../isolation/container/http-mode.js'
import { buildNodeImage } from '../../../isolation/container/images/index.js'
import type { FunctionArtifact, InvokeResult } from '../../../isolation/tier.js'
import { parseOutbound } from '../../../isolation/wasm/host/outbound-grants.js'
import { artifact, containerSkipReason, eventually, type Harness, makeContext, makeHarness, never, REPO, request } from './helpers.js'

const skip = containerSkipReason() ?? false
const GRANT = 'com.kindling.outbound'

interface Target {
  server: http.Server
  port: number
  hits: string[]
  /** sockets of requests to /slow, whose answer never ends */
  slow: net.Socket[]
}

async function startTarget(): Promise<Target> {
  const t: Target = { server: http.createServer(), port: 0, hits: [], slow: [] }
  t.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    t.hits.push(`${req.method} ${req.url}`)
    // an answer that starts and never ends
    if (req.url === '/slow') return void (t.slow.push(req.socket), res.writeHead(200, { 'content-type': 'text/plain' }), res.write('partial'))
    const body = req.url === '/host' ? `host=${req.headers.host} proxy-auth=${req.headers['proxy-authorization'] ?? '-'}` : 'hello from the host'
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body)
  })
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', r))
  t.port = (t.server.address() as net.AddressInfo).port
  return t
}

async function stopTarget(t: Target): Promise<void> {
  for (const s of t.slow) s.destroy()
  t.server.closeAllConnections()
  await new Promise<void>((r) => t.server.close(() => r()))
}

describe('egress proxy without a container', () => {
  it('plans nothing without the annotation, and moves off a server\'s own port 3128', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-egress-'))
    const settings = makeContext(dir, [], new Map()).settings
    fs.rmSync(dir, { recursive: true, force: true })
    assert.equal(egressPlan(artifact(), watchdogSettings({}, 'cat'), settings), undefined)
    const server = watchdogSettings({ mode: 'http', upstream_url: 'http://127.0.0.1:3128' }, 'node s.mjs')
    const plan = egressPlan(artifact({ annotations: { [GRANT]: 'https://api.example.com' } }), server, settings)!
    assert.equal(plan.port, 3129)
    assert.ok(egressEnv(plan).includes('HTTPS_PROXY=http://127.0.0.1:3129'))
  })

  /** One GET through a proxy whose policy says what deadline() answers on each look. */
  async function viaProxy(deadlines: (number | undefined)[]): Promise<{ status: number; code: string; body: string; hits: string[] }> {
    const target = await startTarget()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-egress-'))
    const sock = path.join(dir, 'p.sock')
    let look = 0
    const deadline = (): number | undefined => deadlines[Math.min(look++, deadlines.length - 1)]
    const proxy = new EgressProxy({ patterns: parseOutbound(`http://127.0.0.1:${target.port}`), maxResponseBytes: 1 << 20, maxRequestBytes: 1 << 20, deadline }, () => {})
    try {
      await proxy.listen(sock)
      const r = await new Promise<{ status: number; code: string; body: string }>((resolve, reject) => {
        http.get({ socketPath: sock, path: `http://127.0.0.1:${target.port}/hello` }, (res) => {
          let body = ''
          res.on('data', (c: Buffer) => (body += c.toString()))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, code: String(res.headers['x-kindling-error']), body }))
        }).on('error', reject)
      })
      return { ...r, hits: target.hits }
    } finally {
      proxy.close()
      await stopTarget(target)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }

  it('lets nothing out while no call is in flight', async () => {
    const r = await viaProxy([undefined])
    assert.equal(r.status, 403)
    assert.equal(r.code, 'KINDLING_ERR_OUTBOUND_DENIED')
    assert.match(r.body, /no call of the function is in flight/)
    assert.deepEqual(r.hits, [])
  })

  it('sends nothing when the call ended while the name was being checked', async () => {
    const r = await viaProxy([Date.now() + 10_000, undefined])
    assert.equal(r.status, 403)
    assert.match(r.body, /the call ended before the request went out/)
    assert.deepEqual(r.hits, [])
    const ok = await viaProxy([Date.now() + 10_000])
    assert.equal(ok.status, 200)
    assert.equal(ok.body, 'hello from the host')
  })
})

describe('container network grants', { skip, timeout: 180_000 }, () => {
  let h: Harness
  let target: Target
  /** stands for the gateway and the host's other services on loopback: never granted */
  let gateway: Target

  before(async () => {
    h = makeHarness({ readyTimeoutMs: 10_000 })
    target = await startTarget()
    gateway = await startTarget()
  })
  after(async () => {
    await h.close()
    await stopTarget(target)
    await stopTarget(gateway)
  })

  async function run(a: FunctionArtifact, text: string): Promise<InvokeResult> {
    const p = await h.tier.prepare(a)
    const sb = await h.tier.spawn(p, { sandboxId: `eg-${Math.random().toString(36).slice(2, 8)}` })
    try {
      return await sb.invoke(request({ text }), never())
    } finally {
      await sb.dispose('scale-down')
    }
  }

  const wget = (grant?: string): FunctionArtifact => artifact({ name: 'fetch', envProcess: 'xargs wget -q -O -', ...(grant ? { annotations: { [GRANT]: grant } } : {}) })
  /** sends its body to the proxy as is and answers with what came back */
  const raw = (grant: string): FunctionArtifact => artifact({ name: 'raw', envProcess: 'nc 127.0.0.1 3128', annotations: { [GRANT]: grant } })

  it('a granted function fetches from a server on the host through the proxy', async () => {
    const r = await run(wget(`http://127.0.0.1:${target.port}`), `http://127.0.0.1:${target.port}/hello`)
    assert.equal(r.status, 200, r.body.toString())
    assert.equal(r.body.toString(), 'hello from the host')
    assert.ok(target.hits.includes('GET /hello'))
  })

  it('without the grant the container has no proxy variables and reaches nothing', async () => {
    const env = (await run(artifact({ name: 'env', envProcess: 'env' }), '')).body.toString()
    assert.doesNotMatch(env, /_proxy=/i)
    const granted = (await run(artifact({ name: 'env', envProcess: 'env', annotations: { [GRANT]: 'https://api.example.com' } }), '')).body.toString()
    assert.match(granted, /^http_proxy=http:\/\/127\.0\.0\.1:3128$/m)
    assert.match(granted, /^NO_PROXY=localhost,127\.0\.0\.1$/m)
    const before = target.hits.length
    const r = await run(wget(), `http://127.0.0.1:${target.port}/hello`)
    assert.equal(r.status, 500)
    assert.match(r.body.toString(), /KINDLING_ERR_FUNCTION_EXIT/)
    assert.match(r.stderr ?? '', /refused/i)
    assert.equal(target.hits.length, before)
  })

  it('a host not on the list gets 403 with the code', async () => {
    const r = await run(wget(`http://127.0.0.1:${target.port}`), 'http://example.com/')
    assert.equal(r.status, 500)
    assert.match(r.stderr ?? '', /403/)
    const out = (await run(raw(`http://127.0.0.1:${target.port}`), 'GET http://example.com/ HTTP/1.0\r\nHost: example.com\r\n\r\n')).body.toString()
    assert.match(out, /^HTTP\/1\.1 403 /)
    assert.match(out, /x-kindling-error: KINDLING_ERR_OUTBOUND_DENIED/i)
    assert.match(out, /"code":"KINDLING_ERR_OUTBOUND_DENIED".*http:\/\/example\.com is not granted/)
  })

  it('refuses the gateway, the host\'s other services and the metadata address unless named literally, also by CONNECT', async () => {
    // wildcards grant every public host, never loopback, private or link-local ones
    const grant = `http://127.0.0.1:${target.port},http://*:*,https://*:*`
    const asks = [
      `GET http://127.0.0.1:${gateway.port}/system/functions HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`,
      `GET http://localhost:${gateway.port}/ HTTP/1.0\r\nHost: localhost\r\n\r\n`,
      'GET http://169.254.169.254/latest/meta-data/ HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n',
      `CONNECT 127.0.0.1:${gateway.port} HTTP/1.1\r\nHost: 127.0.0.1:${gateway.port}\r\n\r\n`,
      'CONNECT 169.254.169.254:443 HTTP/1.1\r\nHost: 169.254.169.254:443\r\n\r\n',
    ]
    for (const ask of asks) {
      const out = (await run(raw(grant), ask)).body.toString()
      assert.match(out, /^HTTP\/1\.1 403 /, `${ask.split('\r\n')[0]}: ${out}`)
      assert.match(out, /KINDLING_ERR_OUTBOUND_DENIED/)
    }
    // CONNECT is matched as https://host:port: an http:// grant of the same host does not open a tunnel
    const tunnel = (await run(raw(`http://127.0.0.1:${target.port}`), `CONNECT 127.0.0.1:${target.port} HTTP/1.1\r\nHost: x\r\n\r\n`)).body.toString()
    assert.match(tunnel, /^HTTP\/1\.1 403 /)
    assert.deepEqual(gateway.hits, [], 'nothing reached the gateway')
  })

  it('opens a CONNECT tunnel to a host an https:// pattern grants', async () => {
    // the proxy never looks inside a tunnel: a plain TCP server stands for the TLS one
    const tls = net.createServer((s) => s.end('greeting through the tunnel\n'))
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r))
    const port = (tls.address() as net.AddressInfo).port
    try {
      const out = (await run(raw(`https://127.0.0.1:${port}`), `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)).body.toString()
      assert.match(out, /^HTTP\/1\.1 200 Connection Established\r\n\r\ngreeting through the tunnel\n$/)
    } finally {
      await new Promise<void>((r) => tls.close(() => r()))
    }
  })

  it('sends the URL\'s Host, never the function\'s, and refuses ambiguous framing', async () => {
    const grant = `http://127.0.0.1:${target.port}`
    const out = (await run(raw(grant), `GET http://127.0.0.1:${target.port}/host HTTP/1.0\r\nHost: 127.0.0.1:${gateway.port}\r\nProxy-Authorization: Basic eDp5\r\n\r\n`)).body.toString()
    assert.match(out, /^HTTP\/1\.1 200 /)
    assert.match(out, new RegExp(`host=127\\.0\\.0\\.1:${target.port} proxy-auth=-`))
    const smuggle = `POST http://127.0.0.1:${target.port}/host HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://127.0.0.1:${gateway.port}/ HTTP/1.1\r\nHost: a\r\n\r\n`
    const bad = (await run(raw(grant), smuggle)).body.toString()
    assert.match(bad, /^HTTP\/1\.1 400 /)
    assert.deepEqual(gateway.hits, [])
  })

  it('after the call nothing listens: the proxy socket and the forwarder are gone', async () => {
    const p = await h.tier.prepare(wget(`http://127.0.0.1:${target.port}`))
    const sb = await h.tier.spawn(p, { sandboxId: 'eg-after' })
    const sock = path.join((sb as unknown as { dir: string }).dir, 'egress.sock')
    assert.ok(fs.existsSync(sock), 'the proxy listens while the sandbox waits for its call')
    const r = await sb.invoke(request({ text: `http://127.0.0.1:${target.port}/hello` }), never())
    assert.equal(r.status, 200)
    await sb.dispose('scale-down')
    assert.equal(fs.existsSync(sock), false)
    const refused = await new Promise<boolean>((resolve) => {
      const c = net.connect(sock)
      c.once('connect', () => (c.destroy(), resolve(false)))
      c.once('error', () => resolve(true))
    })
    assert.ok(refused)
    const forwarders = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((e) => {
      try {
        return fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(sock)
      } catch {
        return false
      }
    })
    assert.deepEqual(forwarders, [])
  })

  it('HTTP mode: the server reaches a granted host during a call, and its tunnels end with the call', async () => {
    buildNodeImage(h.tier.images, { ref: 'test/egress-http:1', add: [[path.join(REPO, 'test/isolation/container/fixtures/egress-server'), '/home/app']], link: true })
    const a = artifact({ name: 'web', image: 'test/egress-http:1', envProcess: 'node /home/app/server.mjs', stateMode: 'reuse', memoryBytes: 128 * 1024 * 1024, envVars: { mode: 'http' }, annotations: { [GRANT]: `http://127.0.0.1:${target.port}` } })
    const sb = (await h.tier.spawn(await h.tier.prepare(a), { sandboxId: 'eg-web' })) as HttpSandbox
    const get = async (p: string): Promise<Record<string, unknown>> => JSON.parse((await sb.invoke(request({ method: 'GET', path: p, text: '' }), never())).body.toString()) as Record<string, unknown>
    try {
      const env = await get('/env')
      assert.equal(env['HTTP_PROXY'], 'http://127.0.0.1:3128')
      assert.deepEqual(await get(`/fetch?url=${encodeURIComponent(`http://127.0.0.1:${target.port}/hello`)}`), { status: 200, body: 'hello from the host' })
      const denied = await get(`/fetch?url=${encodeURIComponent(`http://127.0.0.1:${gateway.port}/`)}`)
      assert.equal(denied['status'], 403)
      const slowBefore = target.slow.length
      await get(`/hold?url=${encodeURIComponent(`http://127.0.0.1:${target.port}/slow`)}`)
      assert.ok(await eventually(() => target.slow.length > slowBefore), 'the held request reached the target')
      // the call that opened it is over: its exchange upstream and the function's connection are closed
      assert.ok(await eventually(() => target.slow.every((s) => s.destroyed)), 'upstream side closed')
      let closed = false
      for (let i = 0; i < 50 && !closed; i++) {
        closed = (await get('/held'))['closed'] === true
        if (!closed) await new Promise((r) => setTimeout(r, 20))
      }
      assert.ok(closed, 'the function\'s side closed')
    } finally {
      await sb.dispose('scale-down')
    }
  })
})
