// Callbacks under attack: where they may go (SSRF), what a function may put in them, call ids a
// caller chooses, and one slow callback host against the others.
import assert from 'node:assert/strict'
import dns from 'node:dns'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { after, before, describe, it } from 'node:test'
import { CallbackDenied, CallbackPolicy, limitResolve, type Resolve } from '../../../runtime/async/callback-policy.js'
import { FairSlots } from '../../../runtime/async/fair-slots.js'
import { ConfigError, loadConfig } from '../../../runtime/config.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { wat } from '../../helpers/wat.js'
import { type CallbackServer, startCallbackServer, waitUntil } from './helpers.js'

const LOOPBACK = { callbackAllow: ['127.0.0.1'] }

describe('async callbacks: the destination policy', () => {
  const policy = new CallbackPolicy([])
  const denied = (a: string) => {
    try {
      policy.checkAddress(a, 80, a)
      return false
    } catch (e) {
      return e instanceof CallbackDenied
    }
  }

  it('denies loopback, private, link-local, unspecified, multicast and reserved addresses, also as IPv6 forms of IPv4', () => {
    const bad = ['127.0.0.1', '127.1.2.3', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
      '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe',
      '64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', '::127.0.0.1']
    for (const a of bad) assert.ok(denied(a), `${a} is denied`)
    for (const a of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) assert.ok(!denied(a), `${a} is allowed`)
    for (const a of Object.values(os.networkInterfaces()).flat()) if (a) assert.ok(denied(a.address), `${a.address}, an address of this machine, is denied`)
  })

  it('grants exactly what KINDLING_CALLBACK_ALLOW names: addresses, CIDRs, host:port and names', () => {
    const p = new CallbackPolicy(['127.0.0.1', '10.0.0.0/8', '192.168.1.5:9000', 'hooks.internal', '*.corp.example', '[::1]:8080'])
    const ok = (host: string, port: number, addr: string) => {
      try {
        p.checkAddress(host, port, addr)
        return true
      } catch {
        return false
      }
    }
    assert.ok(ok('127.0.0.1', 1234, '127.0.0.1'))
    assert.ok(ok('x', 80, '::ffff:127.0.0.1'), 'the mapped form of a granted address')
    assert.ok(!ok('127.0.0.2', 80, '127.0.0.2'))
    assert.ok(ok('10.9.9.9', 80, '10.9.9.9'))
    assert.ok(ok('192.168.1.5', 9000, '192.168.1.5'))
    assert.ok(!ok('192.168.1.5', 9001, '192.168.1.5'), 'host:port grants that port only')
    assert.ok(ok('hooks.internal', 443, '172.16.0.9'))
    assert.ok(ok('a.corp.example', 443, '172.16.0.9'))
    assert.ok(!ok('corp.example.evil', 443, '172.16.0.9'))
    assert.ok(ok('[::1]', 8080, '::1'))
    assert.ok(!ok('[::1]', 8081, '::1'))
    assert.throws(() => loadConfig({ KINDLING_CALLBACK_ALLOW: '10.0.0.0/99' }), (e: Error) => e instanceof ConfigError && /KINDLING_CALLBACK_ALLOW/.test(e.message))
    assert.deepEqual(loadConfig({ KINDLING_CALLBACK_ALLOW: '127.0.0.1, 10.0.0.0/8' }).callbackAllow, ['127.0.0.1', '10.0.0.0/8'])
  })

  it('checks every address a name resolves to at connect time and hands the socket only checked ones (DNS rebinding)', async () => {
    let answers = [
      [{ address: '93.184.216.34', family: 4 }],
      [{ address: '169.254.169.254', family: 4 }, { address: '93.184.216.34', family: 4 }, { address: '::ffff:127.0.0.1', family: 6 }],
      [{ address: '169.254.169.254', family: 4 }, { address: '10.0.0.1', family: 4 }],
    ]
    const p = new CallbackPolicy([], (_host, cb) => cb(null, answers.shift()!))
    const lookup = p.lookupFor(80)
    const run = () => new Promise<unknown>((res) => lookup('rebind.example', { all: true }, (err, addrs) => res(err ?? addrs)))
    assert.deepEqual(await run(), [{ address: '93.184.216.34', family: 4 }], 'first resolution: public')
    assert.deepEqual(await run(), [{ address: '93.184.216.34', family: 4 }], 'the socket never sees the denied addresses')
    const third = await run()
    assert.ok(third instanceof CallbackDenied, 'nothing allowed: the connection is refused')
    assert.match((third as Error).message, /169\.254\.169\.254.*link-local/)
    answers = [[{ address: '8.8.8.8', family: 4 }]]
    const one = await new Promise<unknown[]>((res) => lookup('x.example', {}, (_e, a, f) => res([a, f])))
    assert.deepEqual(one, ['8.8.8.8', 4])
  })
})

describe('async callbacks: name resolution', () => {
  it('resolves at most 2 callback names at once, so that a DNS server that never answers cannot take the libuv pool', async () => {
    const pending: (() => void)[] = []
    let started = 0
    const never: Resolve = (_host, cb) => {
      started++
      pending.push(() => cb(null, [{ address: '8.8.8.8', family: 4 }]))
    }
    const limited = limitResolve(never, 2)
    const answered: string[] = []
    for (const h of ['a', 'b', 'c', 'd']) limited(h, () => answered.push(h))
    assert.equal(started, 2, 'two lookups run, two wait')
    pending.shift()!()
    assert.deepEqual(answered, ['a'])
    assert.equal(started, 3, 'a finished lookup lets the next one start')
    while (pending.length) pending.shift()!()
    assert.deepEqual(answered, ['a', 'b', 'c', 'd'])
  })

  it('bounds the lookups waiting: past the queue they fail at once, and stale ones fail instead of running', async () => {
    const pending: (() => void)[] = []
    const started: string[] = []
    const never: Resolve = (host, cb) => {
      started.push(host)
      pending.push(() => cb(null, [{ address: '8.8.8.8', family: 4 }]))
    }
    const limited = limitResolve(never, 1, 2, 50)
    const results = new Map<string, string>()
    for (const h of ['a', 'b', 'c', 'd']) limited(h, (err) => results.set(h, err ? String(err.code) : 'ok'))
    assert.deepEqual(started, ['a'])
    assert.equal(results.get('d'), 'EAI_AGAIN', 'the queue holds two: the fourth fails at once')
    await new Promise((r) => setTimeout(r, 80))
    pending.shift()!()
    // b and c waited past 50 ms: they fail rather than take the slot; nothing else started
    assert.deepEqual(started, ['a'])
    assert.deepEqual([...results].sort(), [['a', 'ok'], ['b', 'EAI_AGAIN'], ['c', 'EAI_AGAIN'], ['d', 'EAI_AGAIN']])
  })
})

describe('async callbacks: through the gateway', () => {
  let k: TestKindling
  let open: TestKindling
  let cb: CallbackServer
  before(async () => {
    k = await startKindling({ asyncCallbackRetryMs: 50 })
    open = await startKindling({ ...LOOPBACK, asyncCallbackRetryMs: 50 })
    cb = await startCallbackServer()
    await k.deploy('cat', exampleModule('cat'))
    await open.deploy('cat', exampleModule('cat'))
    await open.deploy('cat2', exampleModule('cat'))
  })
  after(async () => {
    await k.cleanup()
    await open.cleanup()
    await cb.close()
  })
  const state = async (kk: TestKindling, id: string) => (await kk.app.inject({ method: 'GET', url: `/system/async-calls/${id}`, headers: kk.auth })).json() as { state: string; callback: { error: string | null; attempts: number } }
  const settled = (kk: TestKindling, id: string) => waitUntil(`call ${id} to finish`, async () => {
    const s = await state(kk, id)
    return ['done', 'failed'].includes(s.state) ? s : undefined
  })

  it('refuses at once (400) a callback to a literal non-public address, localhost or a URL with credentials', async () => {
    const port = new URL(cb.url).port
    const cases: [string, string][] = [
      [cb.url, 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://169.254.169.254/latest/meta-data/', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://10.0.0.1/', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://[::1]:8080/system/functions', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://[::ffff:127.0.0.1]/', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://0x7f000001/', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://2130706433/', 'KINDLING_ERR_CALLBACK_DENIED'],
      [`http://localhost:${port}/cb`, 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://a.localhost/', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://localhost./', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['https://[::ffff:169.254.169.254]/', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://[fe80::1]/', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://0.0.0.0/', 'KINDLING_ERR_CALLBACK_DENIED'],
      ['http://user:pw@example.com/', 'KINDLING_ERR_INVALID_CALLBACK_URL'],
      ['file:///etc/passwd', 'KINDLING_ERR_INVALID_CALLBACK_URL'],
      ['gopher://example.com/', 'KINDLING_ERR_INVALID_CALLBACK_URL'],
    ]
    for (const [url, code] of cases) {
      const r = await k.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': url } })
      assert.equal(r.statusCode, 400, url)
      assert.equal(r.headers['x-kindling-error'], code, url)
    }
    assert.equal(cb.received.length, 0)
  })

  it('refuses at connect time a name that resolves to a denied address, and sends nothing there', async (t) => {
    const name = os.hostname()
    const addrs = await dns.promises.lookup(name, { all: true }).catch(() => [])
    if (!addrs.some((a) => a.address === '127.0.0.1')) return t.skip(`${name} does not resolve to 127.0.0.1 here`)
    cb.received.length = 0
    const url = cb.url.replace('127.0.0.1', name)
    const r = await k.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': url }, payload: 'to myself' })
    assert.equal(r.statusCode, 202, 'a name is checked when the callback connects')
    const s = await settled(k, r.headers['x-call-id'] as string)
    assert.match(String(s.callback.error), /not a public address \(loopback\)/)
    assert.equal(s.callback.attempts, 1, 'a denied destination is not tried again')
    assert.equal(cb.received.length, 0)
    // the operator's grant of the address lets the same name through
    const ok = await open.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': url }, payload: 'granted' })
    assert.equal(ok.statusCode, 202)
    const [got] = await cb.waitFor(1)
    assert.equal(got!.body.toString(), 'granted')
  })

  it('reaches localhost when 127.0.0.1 is granted, over the granted address only', async () => {
    cb.received.length = 0
    const r = await open.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': cb.url.replace('127.0.0.1', 'localhost') }, payload: 'via localhost' })
    assert.equal(r.statusCode, 202)
    const [got] = await cb.waitFor(1)
    assert.equal(got!.body.toString(), 'via localhost')
  })

  it('reads a callback\'s answer for its status only: an endless body is dropped, not buffered', async () => {
    const CAP = 64 * 1024 * 1024
    let written = 0
    let closedAt = -1
    const chunk = Buffer.alloc(64 * 1024, 120)
    const endless = http.createServer((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.on('close', () => (closedAt = written))
      const pour = () => {
        while (written < CAP && !res.destroyed) {
          written += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pour)
        }
        res.end()
      }
      pour()
    })
    await new Promise<void>((res) => endless.listen(0, '127.0.0.1', () => res()))
    try {
      const r = await open.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': `http://127.0.0.1:${(endless.address() as AddressInfo).port}/` } })
      const s = await settled(open, r.headers['x-call-id'] as string)
      assert.equal(s.state, 'done', 'a 200 is a delivery, whatever follows it')
      await waitUntil('the connection to close', () => closedAt >= 0)
      assert.ok(closedAt < 16 * 1024 * 1024, `kindling dropped the connection after ${closedAt} bytes were sent, not ${CAP}`)
    } finally {
      endless.closeAllConnections()
      endless.close()
    }
  })

  it('does not follow a redirect from the callback', async () => {
    const target = await startCallbackServer()
    const redirect = http.createServer((_req, res) => res.writeHead(307, { location: target.url }).end())
    await new Promise<void>((res) => redirect.listen(0, '127.0.0.1', () => res()))
    try {
      const r = await open.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': `http://127.0.0.1:${(redirect.address() as AddressInfo).port}/` } })
      const s = await settled(open, r.headers['x-call-id'] as string)
      assert.match(String(s.callback.error), /answered 307/)
      assert.equal(target.received.length, 0)
    } finally {
      redirect.closeAllConnections()
      redirect.close()
      await target.close()
    }
  })

  it('passes only the function\'s status, content type and the documented safe headers into the callback', async () => {
    const out = 'Status: 201\nContent-Type: text/x-test\nAuthorization: Bearer stolen\nCookie: s=1\nSet-Cookie: a=b\nX-Call-Id: forged\nX-Function-Status: 200\nX-Function-Name: other\nX-Correlation-Id: forged\nX-Retry: 9\nX-Evil: 1\nX-Callback-Url: http://10.0.0.1/\n\nbody\n'
    const mod = await wat(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 512) ${JSON.stringify(out)})
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 512))
        (i32.store (i32.const 4) (i32.const ${Buffer.byteLength(out)}))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))`)
    await open.deploy('forger', mod)
    cb.received.length = 0
    const r = await open.app.inject({ method: 'POST', url: '/async-function/forger', headers: { 'x-callback-url': cb.url } })
    const [got] = await cb.waitFor(1)
    const h = got!.headers
    assert.equal(h['x-function-status'], '201')
    assert.equal(h['content-type'], 'text/x-test')
    assert.equal(h['x-call-id'], r.headers['x-call-id'])
    assert.equal(h['x-function-name'], 'forger')
    assert.equal(h['x-retry'], '0')
    for (const name of ['authorization', 'cookie', 'set-cookie', 'x-evil', 'x-correlation-id', 'x-callback-url']) assert.equal(h[name], undefined, `${name} does not pass`)
    assert.equal(got!.body.toString(), 'body\n')
  })

  it('never uses a caller\'s X-Call-Id as the queue key: a reused id is a new call, kept as X-Correlation-Id', async () => {
    cb.received.length = 0
    const send = (fn: string, body: string) => open.app.inject({ method: 'POST', url: `/async-function/${fn}`, headers: { 'x-callback-url': cb.url, 'x-call-id': 'my-call-1' }, payload: body })
    const a = await send('cat', 'first')
    const b = await send('cat', 'second')
    const c = await send('cat2', 'third, another function')
    const ids = [a, b, c].map((r) => r.headers['x-call-id'] as string)
    for (const r of [a, b, c]) {
      assert.equal(r.statusCode, 202)
      assert.equal(r.headers['x-correlation-id'], 'my-call-1')
    }
    assert.equal(new Set(ids).size, 3, 'three calls, three gateway ids')
    const got = await cb.waitFor(3)
    assert.deepEqual(got.map((g) => g.body.toString()).sort(), ['first', 'second', 'third, another function'])
    assert.deepEqual(got.map((g) => g.headers['x-call-id']).sort(), [...ids].sort())
    assert.ok(got.every((g) => g.headers['x-correlation-id'] === 'my-call-1'))
    for (const id of ids) assert.equal((await settled(open, id)).state, 'done')
    const s = (await open.app.inject({ method: 'GET', url: `/system/async-calls/${ids[0]}`, headers: open.auth })).json() as { correlationId: string }
    assert.equal(s.correlationId, 'my-call-1')
  })
})

describe('async callbacks: one slow host does not hold the others', () => {
  it('serves hosts in turn within a cap per host and a cap in all', () => {
    const slots = new FairSlots(2, 1)
    for (const [o, id] of [['a', 'a1'], ['a', 'a2'], ['b', 'b1'], ['c', 'c1']]) slots.enqueue(o!, id!)
    assert.deepEqual(slots.takeReady().map((t) => t.id), ['a1', 'b1'])
    assert.equal(slots.tryStart('d'), false, 'no slot left in all')
    slots.end('a')
    assert.deepEqual(slots.takeReady().map((t) => t.id), ['c1'], 'a had its turn: c goes first')
    slots.end('b')
    assert.deepEqual(slots.takeReady().map((t) => t.id), ['a2'])
    assert.equal(slots.queued, 0)
    assert.equal(slots.tryStart('a'), false, 'a at its cap, and no slot left in all')
  })

  it('delivers a fast host\'s callback while a host that never answers still holds all of its own', async () => {
    const perHost = 2
    const k = await startKindling({ ...LOOPBACK, asyncCallbackPerHost: perHost, asyncCallbackConcurrency: 16, asyncCallbackTimeoutMs: 60_000 })
    const held: http.ServerResponse[] = []
    let slowSeen = 0
    const slow = http.createServer((req, res) => {
      slowSeen++
      req.resume()
      held.push(res)
    })
    await new Promise<void>((res) => slow.listen(0, '127.0.0.1', () => res()))
    const fast = await startCallbackServer()
    try {
      await k.deploy('cat', exampleModule('cat'))
      const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow`
      const slowIds: string[] = []
      for (let i = 0; i < 40; i++) slowIds.push((await k.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': slowUrl }, payload: `slow ${i}` })).headers['x-call-id'] as string)
      await waitUntil('the slow host to hold its callbacks', () => slowSeen >= perHost)
      // another host (by name), on the same machine: hosts, not ports, share the slots
      const r = await k.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': fast.url.replace('127.0.0.1', 'localhost') }, payload: 'fast' })
      const [got] = await fast.waitFor(1, 20_000)
      assert.equal(got!.headers['x-call-id'], r.headers['x-call-id'])
      // the fast callback arrived while every slow one was still unanswered, and no more than the cap went to the slow host
      assert.equal(slowSeen, perHost, `at most ${perHost} callbacks at once to one host`)
      assert.equal(held.length, perHost)
      const states = await Promise.all(slowIds.map(async (id) => ((await k.app.inject({ method: 'GET', url: `/system/async-calls/${id}`, headers: k.auth })).json() as { state: string }).state))
      assert.ok(states.every((s) => s !== 'done' && s !== 'failed'), 'every slow call is still waiting (for its run or its callback)')
    } finally {
      slow.closeAllConnections()
      slow.close()
      await fast.close()
      await k.cleanup()
    }
  })
})
