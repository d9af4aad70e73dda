// The cluster's state in JetStream (issue 12, items 1 and 2), with a real nats-server and several
// kindling nodes in this process, each with its own data dir: a deploy through a gateway-only node
// runs on a worker; a worker that was down during a deploy and a removal catches up when it returns;
// a worker that joins later runs what is deployed; secrets reach NATS sealed only; a change while
// NATS is down is refused with 503 and leaves nothing behind; two gateways creating one name at once
// do not both win; an unreachable NATS URL at start is one clear line from the CLI.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { loadConfig } from '../../../runtime/config.js'
import { createKindling, type Kindling } from '../../../runtime/kindling.js'
import type { CallRequest } from '../../../runtime/pool/dispatcher.js'
import { REPO_ROOT } from '../../../runtime/version.js'
import { exampleModule } from '../../helpers/kindling.js'
import { buildBusyboxImage, findStaticBusybox, importRootfsTar, openImageStore } from '../../../isolation/container/images/index.js'
import { type NatsServer, natsServerUnavailable, startNatsServer } from '../../helpers/nats-server.js'

const skip = natsServerUnavailable()
const NS = 'openfaas-fn'
const SECRET = `s3cret-${crypto.randomBytes(8).toString('hex')}`
let nats: NatsServer
let dir: string
let keyFile: string
const open: Kindling[] = []

before(async () => {
  if (skip) return
  nats = await startNatsServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-state-'))
  keyFile = path.join(dir, 'cluster.key')
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'))
})
after(async () => {
  for (const k of open.splice(0)) await k.close().catch(() => {})
  await nats?.stop()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not in time`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function node(name: string, role: 'gateway' | 'worker' | 'all', over: Record<string, unknown> = {}): Promise<Kindling> {
  const config = loadConfig({}, { dataDir: path.join(dir, name), port: 0, deployExamples: false, spareAppHosts: 0, basicAuth: false, natsUrl: nats.url, role, clusterKeyFile: keyFile, ...over })
  const k = await createKindling(config)
  open.push(k)
  await k.listen()
  return k
}

async function stop(k: Kindling): Promise<void> {
  open.splice(open.indexOf(k), 1)
  await k.close()
}

const sys = (k: Kindling, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
  k.app.inject({ method, url, payload: payload as Record<string, unknown> })

async function upload(k: Kindling, module: string): Promise<string> {
  const r = await k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, payload: fs.readFileSync(exampleModule(module)) })
  assert.equal(r.statusCode, 201, r.body)
  return (r.json() as { image: string }).image
}

async function call(k: Kindling, fn: string, query = '', body = ''): Promise<string> {
  const req: CallRequest = { callId: crypto.randomUUID(), method: 'POST', path: '/', query, headers: {}, body: Buffer.from(body) }
  const r = await k.dispatcher.invoke(fn, NS, req, new AbortController().signal)
  assert.equal(r.status, 200, String(r.body))
  return Buffer.from(r.body).toString()
}

const runs = (k: Kindling, fn: string) => () => k.dispatcher.get(fn, NS)?.pool !== undefined

/** every file under dir holding `needle` */
function filesHolding(root: string, needle: Buffer): string[] {
  const out: string[] = []
  for (const e of fs.readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    const p = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)
    if (fs.readFileSync(p).includes(needle)) out.push(p)
  }
  return out
}

test('a deploy through a gateway-only node runs on the workers, including one that was down and one that joins later', { skip, timeout: 90_000 }, async () => {
  const g = await node('g', 'gateway')
  let w = await node('w', 'worker')
  // a gateway-only node runs nothing
  assert.equal(g.tiers.size, 0)
  assert.equal((await sys(g, 'POST', '/system/secrets', { name: 'api-key', value: SECRET })).statusCode, 201)
  const rs = await sys(g, 'POST', '/system/functions', { service: 'rs', image: await upload(g, 'read-secret'), secrets: ['api-key'] })
  assert.equal(rs.statusCode, 202, rs.body)
  assert.equal((await sys(g, 'POST', '/system/functions', { service: 'echo', image: await upload(g, 'echo') })).statusCode, 202)
  assert.equal(g.dispatcher.list().length, 0, 'the gateway prepared nothing')
  assert.deepEqual((await sys(g, 'GET', '/system/functions')).json<{ name: string }[]>().map((f) => f.name).sort(), ['echo', 'rs'])

  await until('rs runs on the worker', runs(w, 'rs'))
  assert.equal(await call(w, 'rs', 'api-key'), SECRET, 'the worker reads the secret the gateway stored')
  await until('echo runs on the worker', runs(w, 'echo'))
  assert.equal(await call(w, 'echo', '', 'hi'), 'hi')
  assert.equal((await sys(g, 'POST', '/system/scale-function/echo', { serviceName: 'echo', replicas: 2 })).statusCode, 202)
  await until('the worker keeps two echo sandboxes', () => w.dispatcher.get('echo', NS)?.pool?.desired === 2)
  // a worker serves no API, only /healthz (and the internal routes)
  assert.equal((await sys(w, 'GET', '/system/functions')).statusCode, 404)
  assert.equal((await w.app.inject({ method: 'POST', url: '/function/echo', payload: 'x' })).statusCode, 404)
  const health = await w.app.inject({ method: 'GET', url: '/healthz' })
  assert.equal(health.statusCode, 200)
  assert.equal(health.headers['x-kindling-cluster'], 'connected')
  assert.match(health.body, new RegExp(`node ${w.cluster!.id} \\(worker\\): tiers [a-z, ]*wasm`))

  // down during a removal, a new deploy and a secret change
  await stop(w)
  assert.equal((await sys(g, 'DELETE', '/system/functions', { functionName: 'echo' })).statusCode, 202)
  assert.equal((await sys(g, 'POST', '/system/functions', { service: 'rev', image: await upload(g, 'reverse-bytes') })).statusCode, 202)
  assert.equal((await sys(g, 'PUT', '/system/secrets', { name: 'api-key', value: `${SECRET}-2` })).statusCode, 202)
  w = await node('w', 'worker')
  assert.equal(w.dispatcher.get('echo', NS), undefined, 'the removal was caught up')
  assert.ok(runs(w, 'rev')(), 'the deploy was caught up')
  assert.equal(await call(w, 'rev', '', 'abc'), 'cba')
  assert.equal(await call(w, 'rs', 'api-key'), `${SECRET}-2`)

  // joins later: fetches the artifacts it lacks from the object store
  const late = await node('late', 'worker', { advertiseUrl: 'http://late.example:8080' })
  assert.deepEqual(late.registry.list().map((v) => v.key).sort(), ['rev.openfaas-fn', 'rs.openfaas-fn'])
  assert.equal(await call(late, 'rev', '', 'xyz'), 'zyx')
  assert.equal(late.artifacts.list().length, 2)

  // the gateway's /system/info lists the nodes; each says what it is
  await until('the gateway sees three nodes', () => g.cluster!.membership.nodes().length === 3)
  const info = (await sys(g, 'GET', '/system/info')).json<{ cluster: { node: { id: string; role: string; nats: { connected: boolean } }; nodes: { id: string; role: string; url: string }[] } }>()
  assert.equal(info.cluster.node.role, 'gateway')
  assert.equal(info.cluster.node.nats.connected, true)
  assert.deepEqual(info.cluster.nodes.map((n) => n.role).sort(), ['gateway', 'worker', 'worker'])
  assert.equal(info.cluster.nodes.find((n) => n.id === late.cluster!.id)?.url, 'http://late.example:8080', 'a node announces KINDLING_ADVERTISE_URL')

  // NATS holds the secret sealed only
  assert.deepEqual(filesHolding(nats.storeDir, Buffer.from(SECRET)), [], 'no clear-text secret in the NATS store')
  assert.ok(filesHolding(nats.storeDir, Buffer.from('kindling_secrets')).length > 0 || fs.readdirSync(nats.storeDir).length > 0, 'the store dir was searched')
  for (const k of [g, w, late]) await stop(k)
})

test('two gateways creating one name at once: one wins, the other is told; an update names the revision it saw', { skip, timeout: 60_000 }, async () => {
  const a = await node('ga', 'gateway')
  const b = await node('gb', 'gateway')
  const image = await upload(a, 'echo')
  await upload(b, 'echo')
  const [ra, rb] = await Promise.all([a, b].map((k) => sys(k, 'POST', '/system/functions', { service: 'twin', image, labels: { from: k === a ? 'a' : 'b' } })))
  assert.deepEqual([ra!.statusCode, rb!.statusCode].sort(), [202, 409], `${ra!.body} ${rb!.body}`)
  const winner = ra!.statusCode === 202 ? 'a' : 'b'
  await until('both gateways hold the winner', () => [a, b].every((k) => k.registry.get('twin', NS)?.stored.deployment.labels?.from === winner))
  assert.equal((await sys(b, 'PUT', '/system/functions', { service: 'twin', image, labels: { from: 'b2' } })).statusCode, 202)
  await until('a sees the update', () => a.registry.get('twin', NS)?.stored.deployment.labels?.from === 'b2')
  // scale, removal and a new create of the same name travel too
  assert.equal((await sys(a, 'POST', '/system/scale-function/twin', { serviceName: 'twin', replicas: 3 })).statusCode, 202)
  await until('b sees the scale', () => b.registry.get('twin', NS)?.stored.replicas === 3)
  assert.equal((await sys(a, 'DELETE', '/system/functions', { functionName: 'twin' })).statusCode, 202)
  await until('b sees the removal', () => b.registry.get('twin', NS) === undefined)
  assert.equal((await sys(b, 'POST', '/system/functions', { service: 'twin', image, labels: { from: 'again' } })).statusCode, 202)
  await until('a sees the new twin', () => a.registry.get('twin', NS)?.stored.deployment.labels?.from === 'again')
  for (const k of [a, b]) await stop(k)
})

test('with NATS down, API changes are refused with 503 and change nothing; calls of what is there still run', { skip, timeout: 60_000 }, async () => {
  const n = await node('solo', 'all')
  // a worker that lives through the NATS restart follows the changes made after it
  const w = await node('w2', 'worker')
  const image = await upload(n, 'echo')
  assert.equal((await sys(n, 'POST', '/system/functions', { service: 'kept', image })).statusCode, 202)
  await until('kept runs', runs(n, 'kept'))
  const names = () => n.registry.list().map((v) => v.stored.deployment.service).sort()
  const had = names()
  const secretsHad = n.registry.listSecrets(NS)
  await nats.kill9()
  try {
    await until('the node sees NATS down', () => !n.cluster!.link.connected())
    const r = await sys(n, 'POST', '/system/functions', { service: 'lost', image })
    assert.equal(r.statusCode, 503, r.body)
    assert.equal(r.json<{ code: string }>().code, 'KINDLING_ERR_CLUSTER_UNAVAILABLE')
    assert.equal(n.registry.get('lost', NS), undefined)
    assert.equal(n.dispatcher.get('lost', NS), undefined)
    assert.deepEqual(names(), had, 'nothing half-applied')
    assert.equal((await sys(n, 'POST', '/system/secrets', { name: 'nope', value: 'x' })).statusCode, 503)
    assert.deepEqual(n.registry.listSecrets(NS), secretsHad)
    assert.equal((await sys(n, 'DELETE', '/system/functions', { functionName: 'kept' })).statusCode, 503)
    assert.equal((await sys(n, 'POST', '/system/scale-function/kept', { serviceName: 'kept', replicas: 0 })).statusCode, 503)
    assert.equal(await call(n, 'kept', '', 'still'), 'still', 'what the node has still runs')
    const health = await n.app.inject({ method: 'GET', url: '/healthz' })
    assert.equal(health.statusCode, 200)
    assert.equal(health.headers['x-kindling-cluster'], 'disconnected')
    assert.match(health.body, /NATS: disconnected/)
  } finally {
    await nats.start()
  }
  await until('the node reconnects', () => n.cluster!.link.connected())
  const r = await sys(n, 'POST', '/system/functions', { service: 'lost', image })
  assert.equal(r.statusCode, 202, r.body)
  await until('the worker reconnected and runs the new deploy', runs(w, 'lost'))
  assert.equal(await call(w, 'lost', '', 'back'), 'back')
  await stop(n)
  await stop(w)
})

test('a container image the gateway\'s machine has is shipped to a worker through the object store', { skip, timeout: 90_000 }, async (t) => {
  const g = await node('gi', 'gateway')
  const w = await node('wi', 'worker')
  const why = w.tiers.get('container')?.unavailableReason() ?? (findStaticBusybox() ? null : 'no busybox-static')
  if (why) {
    for (const k of [g, w]) await stop(k)
    return t.skip(`the container tier cannot run here: ${why}`)
  }
  // an image imported on the gateway's machine only (kindling image import)
  const store = openImageStore(g.config.dataDirAbs)
  buildBusyboxImage(store)
  const tar = path.join(dir, 'bb.tar')
  spawnSync('tar', ['-C', store.lookup('kindling/busybox:latest')!.rootfs, '-cf', tar, '.'])
  await importRootfsTar(store, 'example.org/tools/bb:2', tar, { env: ['fprocess=cat'] })
  assert.equal(openImageStore(w.config.dataDirAbs).lookup('example.org/tools/bb:2'), undefined)
  const r = await sys(g, 'POST', '/system/functions', { service: 'bb', image: 'example.org/tools/bb:2' })
  assert.equal(r.statusCode, 202, r.body)
  await until('bb runs on the worker', runs(w, 'bb'), 60_000)
  assert.equal(await call(w, 'bb', '', 'from a shipped image'), 'from a shipped image')
  assert.ok(openImageStore(w.config.dataDirAbs).lookup('example.org/tools/bb:2'), 'the worker imported the image')
  for (const k of [g, w]) await stop(k)
})

test('an unreachable NATS URL at start is one clear line from the CLI, not a stack trace', { skip }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'runtime/cli/main.ts'), 'serve', '--nats', 'nats://127.0.0.1:1', '--role', 'worker', '--cluster-key-file', keyFile, '--port', '0', '--data-dir', path.join(dir, 'cli')], {
    encoding: 'utf8',
    env: { ...process.env, KINDLING_NATS_CONNECT_TIMEOUT_MS: '500', KINDLING_DEPLOY_EXAMPLES: 'false' },
    timeout: 30_000,
  })
  assert.equal(r.status, 1, r.stderr)
  assert.match(r.stderr, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/)
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace')
  assert.throws(() => loadConfig({ KINDLING_ADVERTISE_URL: 'late:8080' }), /KINDLING_ADVERTISE_URL=late:8080: must be http:\/\/HOST:PORT/)
})
