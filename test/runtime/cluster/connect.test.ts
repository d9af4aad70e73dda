// The cluster link against a real nats-server: a clear error naming the URL when NATS is not there,
// and a status that follows NATS going away and coming back.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { connectCluster } from '../../../runtime/cluster/connect.js'
import { isKindlingError } from '../../../runtime/errors.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'

const skip = natsServerUnavailable()
let nats: NatsServer
before(async () => {
  if (!skip) nats = await startNatsServer()
})
after(async () => {
  await nats?.stop()
})

const until = async (cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('an unreachable NATS URL is an error with a code that names the URL', { skip }, async () => {
  // a port nothing listens on: the nats-server's own port after it is stopped would race; 1 is never served
  const url = 'nats://127.0.0.1:1'
  await assert.rejects(connectCluster(url, { name: 't', timeoutMs: 500 }), (e: unknown) => {
    assert.ok(isKindlingError(e))
    assert.equal(e.code, 'KINDLING_ERR_CLUSTER_UNAVAILABLE')
    assert.match(e.message, /nats:\/\/127\.0\.0\.1:1/)
    return true
  })
  await assert.rejects(connectCluster('http://x/y', { name: 't', timeoutMs: 500 }), /is not a NATS URL/)
})

test('the link reports NATS going away and reconnects when it is back', { skip }, async () => {
  const link = await connectCluster(nats.url, { name: 't', timeoutMs: 2000 })
  try {
    const seen: boolean[] = []
    link.onChange((c) => seen.push(c))
    assert.equal(link.connected(), true)
    await nats.kill9()
    await until(() => !link.connected())
    await nats.start()
    await until(() => link.connected())
    assert.deepEqual(seen, [false, true])
    assert.ok(link.lastProblem())
    // and it works again
    const sub = link.nc.subscribe('t.echo', { max: 1, callback: (_e, m) => void m.respond(m.data) })
    const r = await link.nc.request('t.echo', 'x', { timeout: 2000 })
    assert.equal(r.string(), 'x')
    sub.unsubscribe()
  } finally {
    await link.close()
  }
})
