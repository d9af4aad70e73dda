// The pure parts of the `peers` scope: workerd's config text, ratios taken within rounds, the
// targets against workerd, and that a failed on-demand install is a reason, never a throw.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { runAutocannon } from '../../bench/lib/load.js'
import { peerTargets, ratioOverRounds } from '../../bench/scopes/peers.js'
import { ensureWorkerd, shaWorker, workerdConfig } from '../../bench/lib/workerd.js'

describe('peers scope', () => {
  it('writes a workerd config with one worker and one loopback socket per service', () => {
    const text = workerdConfig([
      { name: 'echo', port: 18181, modules: [{ name: 'echo.js', kind: 'esModule' }] },
      { name: 'sha', port: 18182, modules: [{ name: 'sha.js', kind: 'esModule' }, { name: 'sha256-64k.wasm', kind: 'wasm' }] },
    ])
    assert.match(text, /^using Workerd = import "\/workerd\/workerd\.capnp";/)
    assert.match(text, /services = \[ \(name = "echo", worker = \.worker0\), \(name = "sha", worker = \.worker1\) \]/)
    assert.match(text, /\(name = "echo-http", address = "127\.0\.0\.1:18181", http = \(\), service = "echo"\)/)
    assert.match(text, /\(name = "sha-http", address = "127\.0\.0\.1:18182", http = \(\), service = "sha"\)/)
    assert.match(text, /const worker1 :Workerd\.Worker = \(\n {2}modules = \[ \(name = "sha\.js", esModule = embed "sha\.js"\), \(name = "sha256-64k\.wasm", wasm = embed "sha256-64k\.wasm"\) \],\n {2}compatibilityDate = "2024-09-01",\n\);/)
    // Cap'n Proto refuses declaration names with underscores (the first version of this did that)
    for (const m of text.matchAll(/^const (\w+) :/gm)) assert.doesNotMatch(m[1]!, /_/)
  })

  it('refuses names that would break the config, bad ports and a wasm entry point', () => {
    assert.throws(() => workerdConfig([]))
    assert.throws(() => workerdConfig([{ name: 'a"b', port: 1, modules: [{ name: 'x.js', kind: 'esModule' }] }]))
    assert.throws(() => workerdConfig([{ name: 'a', port: 70000, modules: [{ name: 'x.js', kind: 'esModule' }] }]))
    assert.throws(() => workerdConfig([{ name: 'a', port: 1, modules: [{ name: 'x.wasm', kind: 'wasm' }] }]))
  })

  it('imports the wasm module by the name the config gives it', () => {
    assert.match(shaWorker('k.wasm'), /^import mod from '\.\/k\.wasm'/)
  })

  it('takes ratios within each round and their median, skipping rounds missing either side', () => {
    assert.equal(ratioOverRounds([100, 300, 200], [100, 100, 100]), 2)
    assert.equal(ratioOverRounds([100, undefined, 50], [50, 10, 0]), 2)
    assert.ok(Number.isNaN(ratioOverRounds([1], [undefined])))
    assert.ok(Number.isNaN(ratioOverRounds([], [])))
  })

  it('states the issue\'s targets: default >= 1.0x at 1 and 50 with p99 no worse, inline >= 1.2x at 1 and 1.0x at 50', () => {
    const rps: Record<string, number> = { 'wasm-echo|1': 1.0, 'wasm-echo|50': 0.9, 'inline-echo|1': 1.19, 'inline-echo|50': 1.0 }
    const p99: Record<string, number> = { 'wasm-echo|1': 1, 'workerd-echo|1': 1, 'wasm-echo|50': 9, 'workerd-echo|50': 8 }
    const ts = peerTargets({ rpsRatio: (id, c) => rps[`${id}|${c}`]!, p99: (id, c) => p99[`${id}|${c}`]! })
    const verdict = Object.fromEntries(ts.map((t) => [t.id, t.holds]))
    assert.deepEqual(verdict, {
      'default-1c-workerd': true,
      'default-1c-p99': true,
      'default-50c-workerd': false,
      'default-50c-p99': false,
      'inline-1c-workerd': false,
      'inline-50c-workerd': true,
    })
  })

  it('reports a failed install as a reason instead of throwing', async () => {
    const file = path.join(os.tmpdir(), `kindling-peers-${process.pid}`)
    fs.writeFileSync(file, '')
    try {
      // a cache folder under a regular file cannot be created: no npm call is made
      const r = await ensureWorkerd(path.join(file, 'cache'))
      assert.equal(r.ok, false)
      if (!r.ok) assert.match(r.reason, /cannot create|linux-x64 only/)
    } finally {
      fs.rmSync(file, { force: true })
    }
  })

  it('records every 2xx response time when the load spec asks (autocannon alone keeps whole milliseconds)', async () => {
    const server = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => res.end('hello'))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
      const o = await runAutocannon({ url, method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' }, connections: 1, durationS: 1, warmupS: 0, exactLatency: true })
      assert.ok(o.ok > 0)
      assert.ok(o.latencyUs, 'latencyUs is there')
      assert.equal(o.latencyUs.n, o.ok)
      assert.ok(o.latencyUs.p50 > 0 && o.latencyUs.p50 <= o.latencyUs.p99)
      const plain = await runAutocannon({ url, method: 'POST', body: 'hello', connections: 1, durationS: 1, warmupS: 0 })
      assert.equal(plain.latencyUs, undefined)
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})
