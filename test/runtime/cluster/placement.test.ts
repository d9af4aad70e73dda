// Placement of sync calls in a cluster: a pure function of the workers' heartbeat records.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { NodeRecord } from '../../../runtime/cluster/membership.js'
import { place } from '../../../runtime/cluster/calls/placement.js'
import { KindlingError } from '../../../runtime/errors.js'

const rec = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  role: 'worker',
  url: `http://127.0.0.1/${id}`,
  tiers: ['wasm', 'process'],
  warm: {},
  inflight: 0,
  load: 0,
  startedAt: '',
  sentAt: '',
  ...over,
})
const fn = { key: 'echo.openfaas-fn', tier: 'wasm' as const }

test('a worker without the function\'s tier is never chosen; none: KINDLING_ERR_NO_WORKER (503)', () => {
  const nodes = [rec('a', { tiers: ['process'], warm: { [fn.key]: 5 } }), rec('b', { inflight: 50, load: 3 })]
  assert.equal(place(nodes, fn).id, 'b')
  assert.throws(() => place([rec('a', { tiers: ['process'] }), rec('g', { role: 'gateway', tiers: ['wasm'] })], fn), (e: unknown) => e instanceof KindlingError && e.code === 'KINDLING_ERR_NO_WORKER' && e.status === 503)
  assert.throws(() => place([], fn), /no live worker can run tier wasm/)
})

test('a gateway-only node is never chosen, even with the tier listed', () => {
  assert.equal(place([rec('g', { role: 'gateway' }), rec('w', { inflight: 9 })], fn).id, 'w')
})

test('a warm idle sandbox of the function wins over a less loaded worker', () => {
  const nodes = [rec('a'), rec('b', { warm: { [fn.key]: 1 }, inflight: 3, load: 1 }), rec('c', { warm: { 'other.openfaas-fn': 4 } })]
  assert.equal(place(nodes, fn).id, 'b')
})

test('then the least loaded: calls in flight first, then the load average', () => {
  assert.equal(place([rec('a', { inflight: 2 }), rec('b', { inflight: 1, load: 5 }), rec('c', { inflight: 3 })], fn).id, 'b')
  assert.equal(place([rec('a', { inflight: 1, load: 0.9 }), rec('b', { inflight: 1, load: 0.2 })], fn).id, 'b')
})

test('calls sent since the last heartbeat count: a burst is spread over equal workers', () => {
  const nodes = [rec('a'), rec('b'), rec('c')]
  const pending = new Map<string, number>()
  const got: string[] = []
  for (let i = 0; i < 9; i++) {
    const n = place(nodes, fn, { pending })
    pending.set(n.id, (pending.get(n.id) ?? 0) + 1)
    got.push(n.id)
  }
  for (const id of ['a', 'b', 'c']) assert.equal(got.filter((g) => g === id).length, 3, got.join())
  // a warm sandbox already taken by a call sent there no longer attracts the next one
  const warm = [rec('a', { warm: { [fn.key]: 1 } }), rec('b')]
  assert.equal(place(warm, fn, { pending: new Map([['a', 1]]) }).id, 'b')
})

test('a node with role all serves a call itself on a tie', () => {
  const nodes = [rec('a'), rec('self', { role: 'all' }), rec('c')]
  assert.equal(place(nodes, fn, { selfId: 'self' }).id, 'self')
  assert.equal(place([rec('a'), rec('self', { role: 'all', inflight: 1 })], fn, { selfId: 'self' }).id, 'a')
})

test('functions of an app that trust each other share one worker, whatever the load and warmth', () => {
  const nodes = [rec('a'), rec('b'), rec('c'), rec('d')]
  const chosen = place(nodes, { ...fn, sharedApp: 'shop' }).id
  const busy = nodes.map((n) => (n.id === chosen ? { ...n, inflight: 100 } : { ...n, warm: { 'cart.openfaas-fn': 3 } }))
  assert.equal(place(busy, { key: 'cart.openfaas-fn', tier: 'wasm', sharedApp: 'shop' }).id, chosen)
  assert.equal(place([...busy].reverse(), { key: 'pay.openfaas-fn', tier: 'wasm', sharedApp: 'shop' }).id, chosen)
  // ...but only among workers with the tier
  assert.notEqual(place(nodes.map((n) => (n.id === chosen ? { ...n, tiers: [] } : n)), { ...fn, sharedApp: 'shop' }).id, chosen)
  // different apps spread over the workers
  const apps = new Set(Array.from({ length: 40 }, (_, i) => place(nodes, { ...fn, sharedApp: `app${i}` }).id))
  assert.ok(apps.size >= 3, [...apps].join())
})
