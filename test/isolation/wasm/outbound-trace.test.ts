// Trace propagation through outbound HTTP (issue 13 item 6): a traced call's requests carry a
// traceparent that is a child of the call's span, whatever traceparent the guest set, and each is a
// client span (a hop of the call's result); a call that is not traced sends the guest's headers as
// they are. Modules (kindling.http_request) and components (wasi:http outgoing-handler), against a
// server on loopback that answers with the headers it got.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createHttpHost, type HttpCall } from '../../../isolation/component/host/http.js'
import { parseOutbound } from '../../../isolation/wasm/host/outbound-grants.js'
import type { ChainHop } from '../../../isolation/tier.js'
import { startTargetServer, type TargetServer } from '../../helpers/target-server.js'
import { wasiCommand, wat } from '../../helpers/wat.js'
import { request, wasmFunction } from './runner-helpers.js'

const TRACE = '0af7651916cd43dd8448eb211c80319c'
const PARENT = 'b7ad6b7169203331'
const CALL_TP = `00-${TRACE}-${PARENT}-01`
const FORGED = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`
const CHILD = new RegExp(`^00-${TRACE}-([0-9a-f]{16})-01$`)

let target: TargetServer
before(async () => {
  target = await startTargetServer()
})
after(async () => {
  await target.stop()
})

const esc = (s: string) => s.replace(/\n/g, '\\0a')

/** A WASI command that GETs `url` with the header lines `headers` and writes the response body as its CGI answer. */
async function fetcher(url: string, headers: string) {
  const cgi = 'Content-Type: text/plain\n\n'
  return wat(wasiCommand(`(local $len i32) (local $got i32)
    (drop (call $req (i32.const 0) (i32.const 3) (i32.const 16) (i32.const ${url.length}) (i32.const 512) (i32.const ${headers.length}) (i32.const 0) (i32.const 0) (i32.const 4000)))
    (local.set $len (i32.load (i32.const 4000)))
    (local.set $got (call $read (i32.const ${4096 + cgi.length}) (i32.const 0) (local.get $len)))
    (i32.store (i32.const 3000) (i32.const 4096))
    (i32.store (i32.const 3004) (i32.add (i32.const ${cgi.length}) (local.get $got)))
    (drop (call $fd_write (i32.const 1) (i32.const 3000) (i32.const 1) (i32.const 3008)))`,
  `(import "kindling" "http_request" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
   (import "kindling" "http_response_read" (func $read (param i32 i32 i32) (result i32)))
   (data (i32.const 0) "GET")
   (data (i32.const 16) "${url}")
   (data (i32.const 512) "${esc(headers)}")
   (data (i32.const 4096) "${esc(cgi)}")`))
}

async function moduleCall(callTp: string | undefined, guestHeaders: string) {
  const fn = wasmFunction(await fetcher(`${target.origin}/headers`, guestHeaders), { outbound: { patterns: parseOutbound(target.origin), maxResponseBytes: 1 << 20 } })
  const headers: Record<string, string> = { 'content-type': 'text/plain', ...(callTp ? { traceparent: callTp } : {}) }
  const r = fn.createSandbox().run(request('', { headers, deadline: Date.now() + 5000 }))
  assert.equal(r.status, 200, r.body.toString())
  return { sent: JSON.parse(r.body.toString()) as Record<string, string>, hops: r.hops }
}

function assertClientHop(sent: Record<string, string>, hops: ChainHop[] | undefined) {
  const span = CHILD.exec(sent.traceparent ?? '')?.[1]
  assert.ok(span, `a child of the call's trace was sent: ${sent.traceparent}`)
  assert.notEqual(span, PARENT)
  assert.equal(hops?.length, 1)
  assert.deepEqual(hops![0]!.client, { host: '127.0.0.1', port: target.port })
  assert.deepEqual([hops![0]!.name, hops![0]!.spanId, hops![0]!.parentSpanId, hops![0]!.status], ['GET', span, PARENT, 200])
}

test('module: a traced call sends a child traceparent and reports a client span; the guest cannot forge it', async () => {
  const plain = await moduleCall(CALL_TP, 'x-mine: 1\n')
  assert.equal(plain.sent['x-mine'], '1')
  assertClientHop(plain.sent, plain.hops)
  const forged = await moduleCall(CALL_TP, `traceparent: ${FORGED}\n`)
  assertClientHop(forged.sent, forged.hops)
})

test('module: a call that is not traced sends the guest headers as they are and no span', async () => {
  const none = await moduleCall(undefined, `traceparent: ${FORGED}\n`)
  assert.equal(none.sent.traceparent, FORGED)
  assert.equal(none.hops, undefined)
})

/* eslint-disable @typescript-eslint/no-explicit-any */
test('component: outgoing-handler requests carry the call trace the same way', () => {
  const hops: ChainHop[] = []
  const send = (callTp: string | undefined) => {
    const call: HttpCall = { deadline: Date.now() + 5000, maxBodyBytes: 1 << 20, outbound: { patterns: parseOutbound(target.origin), maxResponseBytes: 1 << 20 }, trace: { traceparent: () => callTp, hop: (h) => hops.push(h) } }
    const host = createHttpHost(() => call)
    const t = host.imports.types as any
    const fields = new t.Fields()
    fields.append('traceparent', Buffer.from(FORGED))
    const req = new t.OutgoingRequest(fields)
    req.setScheme({ tag: 'HTTP' })
    req.setAuthority(`127.0.0.1:${target.port}`)
    req.setPathWithQuery('/headers')
    const res = (host.imports.outgoingHandler as any).handle(req, undefined).get().val.val
    return JSON.parse(Buffer.from(res.consume().stream().blockingRead(1_000_000n)).toString()) as Record<string, string>
  }
  assertClientHop(send(CALL_TP), hops)
  hops.length = 0
  assert.equal(send(undefined).traceparent, FORGED)
  assert.equal(hops.length, 0)
})
