// Compile once (issue 11, item 3): an upload validates and classifies a module (one compile), a
// deploy passes the stored format to the tier and instruments without compiling, and the process
// that runs the function compiles the instrumented module once; the instrumented bytes are cached
// content-addressed, as private files.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadWasmFunction } from '../../../isolation/apphost/wasm-kind.js'
import type { LoadRequest } from '../../../isolation/apphost/host-kinds.js'
import { compileCount } from '../../../isolation/wasm/compile.js'
import { prepareWasm } from '../../../isolation/wasm/prepare.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'

describe('compile once per version', () => {
  let k: TestKindling
  before(async () => {
    k = await startKindling()
  })
  after(() => k.cleanup())

  const call = async (name: string) => {
    const r = await k.app.inject({ method: 'POST', url: `/function/${name}`, payload: 'hi' })
    assert.equal(r.statusCode, 200, r.body)
    assert.equal(r.body, 'hi')
  }

  it('compiles at upload only, not again for the same bytes, and not in the gateway for the wasm tier', async () => {
    const c0 = compileCount()
    const image = await k.upload(exampleModule('echo'))
    assert.equal(compileCount() - c0, 1, 'the upload compiles once to validate and classify')
    assert.equal(await k.upload(exampleModule('echo')), image)
    assert.equal(compileCount() - c0, 1, 'the same bytes again are not classified again')
    const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: 'echo-wasm', image, labels: { 'com.kindling.isolation': 'wasm' } } })
    assert.equal(res.statusCode, 202, res.body)
    await call('echo-wasm')
    assert.equal(compileCount() - c0, 1, 'the wasm tier compiles in the app host, not in the gateway')
  })

  it('compiles the instrumented module once in the gateway for the inline tier', async () => {
    const image = await k.upload(exampleModule('echo'))
    const c0 = compileCount()
    const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: 'echo-inline', image, labels: { 'com.kindling.isolation': 'inline' } } })
    assert.equal(res.statusCode, 202, res.body)
    await call('echo-inline')
    await call('echo-inline')
    assert.equal(compileCount() - c0, 1)
  })

  it('keeps the instrumented bytes and what instrumenting found in 0600 files, reused by the next prepare', () => {
    const fn = k.dispatcher.get('echo-wasm', 'openfaas-fn')
    const artifact = fn?.pool?.prepared.artifact
    assert.ok(artifact?.wasm, 'the deployed version has a wasm part')
    assert.equal(artifact.wasm.format, 'assemblyscript', 'the dispatcher passes the format stored at upload')
    const dir = path.join(k.config.dataDirAbs, 'cache', 'wasm')
    const files = fs.readdirSync(dir)
    assert.ok(files.some((f) => f.endsWith('.wasm')) && files.some((f) => f.endsWith('.json')), files.join(' '))
    for (const f of files) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, f)
    const ctx = { stateDir: dir, dataDir: k.config.dataDirAbs, settings: { interruptFuel: 4096, maxBodyBytes: 1 << 20 }, readSecret: () => undefined, log: () => {} }
    const again = prepareWasm(artifact, ctx as unknown as Parameters<typeof prepareWasm>[1])
    assert.equal(again.cached, true)
    const other = prepareWasm({ ...artifact, memoryBytes: artifact.memoryBytes * 2 }, ctx as unknown as Parameters<typeof prepareWasm>[1])
    assert.equal(other.cached, false, 'another memory limit is another instrumented module')
    assert.notEqual(other.modulePath, again.modulePath)
  })

  it('compiles once per LOAD in an app host (the wasm kind)', () => {
    const fn = k.dispatcher.get('echo-wasm', 'openfaas-fn')
    const p = fn?.pool?.prepared as unknown as { load: Record<string, unknown> }
    const c0 = compileCount()
    const loaded = loadWasmFunction({ fnId: 'x', ...p.load } as unknown as LoadRequest)
    assert.equal(compileCount() - c0, 1)
    loaded.unload()
  })
})
