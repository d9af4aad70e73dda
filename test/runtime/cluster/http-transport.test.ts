// The direct HTTP call transport against a real HTTP server on loopback: a worker that dies while it
// runs a call (its connection reset after it read the call) fails that call with
// KINDLING_ERR_WORKER_LOST; the call is not written again, even on a kept-alive connection (it may
// have run: a sync call runs at most once).
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { CallAuth } from '../../../runtime/cluster/calls/auth.js'
import { callHead, encodeFrame } from '../../../runtime/cluster/calls/frame.js'
import { HttpTransport } from '../../../runtime/cluster/calls/http.js'
import { KindlingError } from '../../../runtime/errors.js'

test('a connection reset while the worker runs a call fails it with KINDLING_ERR_WORKER_LOST, and it is not sent again', async () => {
  let seen = 0
  const srv = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      // the first call answers (its connection is kept alive), the second "dies" mid-call
      if (++seen === 1) {
        const frame = encodeFrame({ status: 200, headers: {}, node: 'w' }, Buffer.from('ok'))
        res.writeHead(200, { 'content-length': frame.length }).end(frame)
      } else req.socket.destroy()
    })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`
  const t = new HttpTransport(new CallAuth(crypto.randomBytes(32)), 10_000)
  try {
    const req = { callId: 'c1', method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from('x') }
    const first = await t.call(url, 'w', callHead('echo.openfaas-fn', req, 1000), req.body, new AbortController().signal)
    assert.equal(first.body.toString(), 'ok')
    await assert.rejects(t.call(url, 'w', callHead('echo.openfaas-fn', req, 1000), req.body, new AbortController().signal), (e: unknown) => e instanceof KindlingError && e.code === 'KINDLING_ERR_WORKER_LOST' && e.status === 502)
    assert.equal(seen, 2)
  } finally {
    t.close()
    srv.close()
  }
})
