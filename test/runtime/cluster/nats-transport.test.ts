// The NATS call transport on a real nats-server: a call published on the subject of a worker that
// is not there (it died, or just left) is refused by the server ("no responders"), so the router
// can place it on another worker instead of waiting for the dead one's heartbeat to expire.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { after, before, test } from 'node:test'
import { CallAuth } from '../../../runtime/cluster/calls/auth.js'
import { callHead } from '../../../runtime/cluster/calls/frame.js'
import { aliveSubject } from '../../../runtime/cluster/calls/names.js'
import { NatsTransport } from '../../../runtime/cluster/calls/nats.js'
import { CallNotSent } from '../../../runtime/cluster/calls/transport.js'
import { type ClusterLink, connectCluster } from '../../../runtime/cluster/connect.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'

const skip = natsServerUnavailable()
let nats: NatsServer
let link: ClusterLink
before(async () => {
  if (skip) return
  nats = await startNatsServer()
  link = await connectCluster(nats.url, { name: 'test', timeoutMs: 5000 })
})
after(async () => {
  await link?.close()
  await nats?.stop()
})

test('a call to a worker nobody listens for is refused as not sent (no responders), one chunk or many', { skip }, async () => {
  const t = new NatsTransport(link, new CallAuth(crypto.randomBytes(32)), 'gw')
  try {
    for (const size of [10, 3 * 1024 * 1024]) {
      const req = { callId: 'c1', method: 'POST', path: '/', query: '', headers: {}, body: Buffer.alloc(size) }
      let timer: NodeJS.Timeout | undefined
      const bound = new Promise<string>((r) => (timer = setTimeout(() => r('no answer within 10 s'), 10_000)))
      const got = await Promise.race([t.call('', 'gone-node', callHead('echo.openfaas-fn', req, 1000), req.body, new AbortController().signal).then(() => 'answered', (e: unknown) => e), bound])
      clearTimeout(timer)
      assert.ok(got instanceof CallNotSent, String(got))
    }
  } finally {
    t.close()
  }
})

test('a worker whose NATS connection is gone is unreachable at once (its calls need not wait for its heartbeat)', { skip }, async () => {
  const t = new NatsTransport(link, new CallAuth(crypto.randomBytes(32)), 'gw')
  // the worker's side of the probe, on its own connection as a worker process has
  const worker = await connectCluster(nats.url, { name: 'worker', timeoutMs: 5000 })
  try {
    worker.nc.subscribe(aliveSubject('w1'), { callback: (err, msg) => void (err || msg.respond()) })
    await worker.nc.flush()
    assert.equal(await t.reachable('w1'), true)
    // a kill -9 closes the socket: the server drops the worker's subscriptions with it (a probe that
    // reached the server before it saw the close times out and says nothing, so a few probes)
    await worker.nc.close()
    let reachable = true
    for (let i = 0; i < 10 && reachable; i++) reachable = await t.reachable('w1')
    assert.equal(reachable, false)
    assert.equal(await t.reachable('never-was'), false)
  } finally {
    t.close()
    await worker.close()
  }
})
