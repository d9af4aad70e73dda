// Tracing (issue 13, item 6): a caller's traceparent is checked (a malformed one is replaced, never
// passed on), each hop gets its own span id (the call, a kindling.call it makes, an async run, its
// callback), and spans go to an OTLP/HTTP receiver this test starts on loopback; a collector that
// is down costs dropped spans, counted, never a failed call.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { continueTrace, parseTraceparent } from '../../../runtime/tracing/traceparent.js'
import { OtlpExporter } from '../../../runtime/tracing/otlp.js'
import { exampleModule, startKindling, waitWarm } from '../../helpers/kindling.js'
import { startTargetServer } from '../../helpers/target-server.js'

const TRACE = '0af7651916cd43dd8448eb211c80319c'
const PARENT = 'b7ad6b7169203331'
const GOOD = `00-${TRACE}-${PARENT}-01`

test('traceparent: valid ones are continued with a new span id, anything else starts a new trace', () => {
  assert.deepEqual(parseTraceparent(GOOD), { traceId: TRACE, spanId: PARENT, flags: '01' })
  assert.ok(parseTraceparent(`01-${TRACE}-${PARENT}-01-more`), 'a later version may add fields')
  for (const bad of [
    '', 'garbage', `00-${TRACE}-${PARENT}-01-extra`, `ff-${TRACE}-${PARENT}-01`, `00-${'0'.repeat(32)}-${PARENT}-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`, `00-${TRACE.toUpperCase()}-${PARENT}-01`, `00-${TRACE}-${PARENT}-1`, `00-${TRACE}\r\n-${PARENT}-01`,
  ]) assert.equal(parseTraceparent(bad), undefined, bad)

  const h: Record<string, string> = { traceparent: GOOD, tracestate: 'a=b' }
  const t = continueTrace(h)
  assert.equal(t.traceId, TRACE)
  assert.equal(t.parentSpanId, PARENT)
  assert.notEqual(t.spanId, PARENT)
  assert.equal(h.traceparent, `00-${TRACE}-${t.spanId}-01`)
  assert.equal(h.tracestate, 'a=b')

  const bad: Record<string, string> = { traceparent: '00-evil<script>-x-01', tracestate: 'a=b' }
  const n = continueTrace(bad)
  assert.equal(n.parentSpanId, undefined)
  assert.match(bad.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  assert.equal(bad.tracestate, undefined)
})

interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; kind?: number; attributes: { key: string; value: Record<string, unknown> }[] }

/** A small OTLP/HTTP JSON receiver on loopback. */
async function otlpReceiver() {
  const spans: OtlpSpan[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/json') {
        const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans)
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { spans, url, close: () => new Promise<void>((r) => server.close(() => r())) }
}

async function until<T>(what: string, f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = f()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value
  return v && Object.values(v)[0]
}
const tpOf = (envOutput: string) => /^Http_Traceparent=(.*)$/m.exec(envOutput)?.[1]

test('spans of calls, chained calls, async runs and callbacks reach an OTLP receiver', async () => {
  const otlp = await otlpReceiver()
  const callbacks: http.IncomingHttpHeaders[] = []
  const hook = http.createServer((req, res) => {
    callbacks.push(req.headers)
    req.resume().on('end', () => res.end())
  })
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  const k = await startKindling({ otlpEndpoint: otlp.url, otlpFlushMs: 50, callbackAllow: ['127.0.0.1'] })
  try {
    await k.deploy('env', exampleModule('env'), { labels: { 'com.kindling.app': 'tr' } })
    await k.deploy('chain', exampleModule('chain'), { labels: { 'com.kindling.app': 'tr' } })
    await waitWarm(k, 'env')

    // a valid traceparent: the function sees the same trace with the gateway's span as its parent
    const r1 = await k.app.inject({ method: 'GET', url: '/function/env', headers: { traceparent: GOOD } })
    const seen = parseTraceparent(tpOf(r1.body))!
    assert.equal(seen.traceId, TRACE)
    assert.notEqual(seen.spanId, PARENT)
    const s1 = await until('the span of the call', () => otlp.spans.find((s) => s.spanId === seen.spanId))
    assert.equal(s1.traceId, TRACE)
    assert.equal(s1.parentSpanId, PARENT)
    assert.equal(s1.name, 'env.openfaas-fn')
    assert.equal(attr(s1, 'kindling.tier'), 'wasm')
    assert.equal(typeof attr(s1, 'kindling.sandbox.id'), 'string')
    assert.equal(typeof attr(s1, 'faas.coldstart'), 'boolean')
    assert.equal(attr(s1, 'http.response.status_code'), '200')

    // a malformed one is never passed on: a new trace starts
    const evil = '00-evil-value-01'
    const r2 = await k.app.inject({ method: 'GET', url: '/function/env', headers: { traceparent: evil, tracestate: 'x=y' } })
    assert.ok(!r2.body.includes('evil'), r2.body)
    assert.ok(!r2.body.includes('Http_Tracestate'), 'a tracestate goes with its dropped traceparent')
    const fresh = parseTraceparent(tpOf(r2.body))!
    assert.notEqual(fresh.traceId, TRACE)
    const s2 = await until('the span of a new trace', () => otlp.spans.find((s) => s.spanId === fresh.spanId))
    assert.equal(s2.parentSpanId, undefined)

    // a chained call (kindling.call) is a hop of its own in the same trace
    const r3 = await k.app.inject({ method: 'POST', url: '/function/chain', headers: { traceparent: GOOD }, payload: 'env\n' })
    assert.equal(r3.statusCode, 200, r3.body)
    const chained = parseTraceparent(tpOf(r3.body))!
    assert.equal(chained.traceId, TRACE)
    assert.notEqual(chained.spanId, PARENT)
    const chainSpan = await until('the span of the chain call', () => otlp.spans.find((s) => s.name === 'chain.openfaas-fn'))
    assert.notEqual(chained.spanId, chainSpan.spanId)
    // the hop ran inside the app host; it comes back with the call and is a span of its own
    const hop = await until('the span of the chained hop', () => otlp.spans.find((s) => s.spanId === chained.spanId))
    assert.equal(hop.traceId, TRACE)
    assert.equal(hop.parentSpanId, chainSpan.spanId)
    assert.equal(hop.name, 'env.openfaas-fn')
    assert.equal(attr(hop, 'kindling.chained'), true)

    // an async call: its run is a span of the caller's trace, and its callback carries the trace
    const a = await k.app.inject({ method: 'POST', url: '/async-function/env', headers: { traceparent: GOOD, 'x-callback-url': `http://127.0.0.1:${(hook.address() as AddressInfo).port}/done` }, payload: 'x' })
    assert.equal(a.statusCode, 202, a.body)
    const callId = a.headers['x-call-id'] as string
    const run = await until('the span of the async run', () => otlp.spans.find((s) => attr(s, 'faas.invocation_id') === callId))
    assert.equal(run.traceId, TRACE)
    assert.equal(run.parentSpanId, PARENT)
    const cb = await until('the callback', () => callbacks.find((h) => h['x-call-id'] === callId))
    const cbTp = parseTraceparent(cb.traceparent as string)!
    assert.equal(cbTp.traceId, TRACE)
    assert.notEqual(cbTp.spanId, PARENT)

    const metrics = (await k.app.inject({ method: 'GET', url: '/metrics' })).body
    assert.match(metrics, /kindling_trace_spans_exported_total [1-9]/)
  } finally {
    await k.cleanup()
    await otlp.close()
    await new Promise<void>((r) => hook.close(() => r()))
  }
})

test('an outbound request of a traced call carries its trace and is a client span of the call (fetch-url)', async () => {
  const otlp = await otlpReceiver()
  const target = await startTargetServer()
  const k = await startKindling({ otlpEndpoint: otlp.url, otlpFlushMs: 50 })
  try {
    await k.deploy('fetch', exampleModule('fetch-url'), { annotations: { 'com.kindling.outbound': target.origin } })
    const r = await k.app.inject({ method: 'POST', url: '/function/fetch', headers: { traceparent: GOOD, 'content-type': 'text/plain' }, payload: `${target.origin}/headers` })
    assert.equal(r.statusCode, 200, r.body)
    const sent = parseTraceparent((JSON.parse(r.body) as { traceparent: string }).traceparent)!
    assert.equal(sent.traceId, TRACE)
    const call = await until('the span of the call', () => otlp.spans.find((s) => s.name === 'fetch.openfaas-fn'))
    assert.equal(call.parentSpanId, PARENT)
    const client = await until('the client span', () => otlp.spans.find((s) => s.spanId === sent.spanId))
    assert.equal(client.traceId, TRACE)
    assert.equal(client.parentSpanId, call.spanId)
    assert.equal(client.kind, 3)
    assert.equal(client.name, 'GET')
    assert.equal(attr(client, 'http.request.method'), 'GET')
    assert.equal(attr(client, 'server.address'), '127.0.0.1')
    assert.equal(attr(client, 'server.port'), String(target.port))
    assert.equal(attr(client, 'http.response.status_code'), '200')
  } finally {
    await k.cleanup()
    await otlp.close()
    await target.stop()
  }
})

test('a collector that is down costs dropped spans, never a failed call', async () => {
  // a port that was just free: nothing listens there
  const probe = http.createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((r) => probe.close(() => r()))
  const k = await startKindling({ otlpEndpoint: `http://127.0.0.1:${port}`, otlpFlushMs: 20, otlpTimeoutMs: 500 })
  try {
    await k.deploy('echo', exampleModule('echo'))
    for (let i = 0; i < 5; i++) {
      const r = await k.app.inject({ method: 'POST', url: '/function/echo', payload: 'hi' })
      assert.equal(r.statusCode, 200)
      assert.equal(r.body, 'hi')
    }
    let text = ''
    for (let i = 0; i < 250 && !/kindling_trace_spans_dropped_total 5\b/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 20))
      text = (await k.app.inject({ method: 'GET', url: '/metrics' })).body
    }
    assert.match(text, /kindling_trace_spans_dropped_total 5\b/)
    assert.match(text, /kindling_trace_spans_exported_total 0\b/)
  } finally {
    await k.cleanup()
  }
})

test('the export queue is bounded: spans past it are dropped and counted at once, batches go in order', async () => {
  const otlp = await otlpReceiver()
  const e = new OtlpExporter({ endpoint: otlp.url, maxQueue: 3, batchSize: 2, flushMs: 60_000, timeoutMs: 2000, serviceName: 't' })
  try {
    for (let i = 0; i < 5; i++) {
      e.push({ trace: continueTrace({}), name: `s${i}`, startNs: '1', endNs: '2', attributes: { n: i, ok: true, x: 0.5, none: undefined }, error: false })
    }
    assert.equal(e.dropped, 2)
    await e.close()
    assert.equal(e.exported, 3)
    assert.deepEqual(otlp.spans.map((s) => s.name), ['s0', 's1', 's2'])
    assert.deepEqual(otlp.spans[1]!.attributes, [{ key: 'n', value: { intValue: '1' } }, { key: 'ok', value: { boolValue: true } }, { key: 'x', value: { doubleValue: 0.5 } }])
  } finally {
    await otlp.close()
  }
})
