// wasi:http/outgoing-handler of components (issue 13 item 1), driven the way jco's bindings drive
// it: build an outgoing-request, handle() it, read the future's response and its body stream.
// Against a real server on loopback (in a child process: handle() blocks this thread).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createHttpHost, type HttpCall } from '../../../isolation/component/host/http.js'
import { WitError } from '../../../isolation/component/host/io.js'
import { parseOutbound } from '../../../isolation/wasm/host/outbound-grants.js'
import { DeadlineError } from '../../../isolation/wasm/wasi.js'
import { startTargetServer, type TargetServer } from '../../helpers/target-server.js'

let target: TargetServer
before(async () => {
  target = await startTargetServer()
})
after(async () => {
  await target.stop()
})

/* eslint-disable @typescript-eslint/no-explicit-any */
function send(grants: string | undefined, authority: string, pathWithQuery: string, deadlineMs = 5000): any {
  const call: HttpCall = { deadline: Date.now() + deadlineMs, maxBodyBytes: 1 << 20, ...(grants === undefined ? {} : { outbound: { patterns: parseOutbound(grants), maxResponseBytes: 4096 } }) }
  const host = createHttpHost(() => call)
  const t = host.imports.types as any
  const req = new t.OutgoingRequest(new t.Fields())
  req.setScheme({ tag: 'HTTP' })
  req.setAuthority(authority)
  req.setPathWithQuery(pathWithQuery)
  try {
    const future = (host.imports.outgoingHandler as any).handle(req, undefined)
    const got = future.get()
    assert.equal(got.tag, 'ok')
    if (got.val.tag === 'err') return { error: got.val.val }
    const res = got.val.val
    const body = Buffer.from(res.consume().stream().blockingRead(1_000_000n)).toString()
    return { status: res.status(), body }
  } catch (e) {
    if (e instanceof WitError) return { thrown: (e as any).payload }
    throw e
  }
}

test('a granted request gets its response; one not granted is HTTP-request-denied', () => {
  const host = `127.0.0.1:${target.port}`
  assert.deepEqual(send(target.origin, host, '/hello'), { status: 200, body: 'hello from target' })
  assert.deepEqual(send(undefined, host, '/hello'), { thrown: { tag: 'HTTP-request-denied' } })
  assert.deepEqual(send(target.origin, `localhost:${target.port}`, '/hello'), { error: { tag: 'HTTP-request-denied' } })
  assert.deepEqual(send(`http://*:${target.port}`, `localhost:${target.port}`, '/hello'), { error: { tag: 'HTTP-request-denied' } })
})

test('redirects stay inside the list; a large body is HTTP-response-body-size; the deadline ends the call', () => {
  const host = `127.0.0.1:${target.port}`
  assert.deepEqual(send(target.origin, host, '/redirect?to=/hello'), { status: 200, body: 'hello from target' })
  assert.deepEqual(send(target.origin, host, `/redirect?to=${encodeURIComponent(`http://localhost:${target.port}/hello`)}`), { error: { tag: 'HTTP-request-denied' } })
  assert.deepEqual(send(target.origin, host, '/big?n=5000'), { error: { tag: 'HTTP-response-body-size' } })
  assert.throws(() => send(target.origin, host, '/slow', 300), (e) => e instanceof DeadlineError || (e as Error).name === 'InterruptedError')
})
