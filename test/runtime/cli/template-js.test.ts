// The JavaScript template: `export default { fetch(request) }` built with esbuild + componentize-js
// into a wasi:http component, deployed by `kindling up` to a real gateway process and called.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../../helpers/cli.js'
import { tempDataDir } from '../../helpers/kindling.js'
import { type ServerProcess, startServerProcess } from '../../helpers/server-process.js'

describe('kindling new --lang js: a fetch handler as a wasi:http component', () => {
  let dataDir: string
  let work: string
  let srv: ServerProcess
  before(async () => {
    dataDir = tempDataDir()
    work = tempDataDir('kindling-template-js-')
    srv = await startServerProcess(dataDir)
  })
  after(async () => {
    await srv.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
    fs.rmSync(work, { recursive: true, force: true })
  })

  it('is written, built once, deployed and answers with its Response', async () => {
    const stack = path.join(work, 'stack.yml')
    const made = runCli(['new', 'hello-js', '--lang', 'js', '-f', stack, '--gateway', srv.url])
    assert.equal(made.code, 0, made.err)
    const handler = path.join(work, 'hello-js', 'handler.js')
    assert.match(fs.readFileSync(handler, 'utf8'), /export default \{\s+async fetch\(request\)/)

    const up = runCli(['up', '-f', stack, '--data-dir', dataDir])
    assert.equal(up.code, 0, up.err)
    assert.match(up.out, /hello-js: built .*hello-js\.wasm \(js, [\d.]+ MiB/)
    const wasm = fs.readFileSync(path.join(work, 'hello-js', 'build', 'hello-js.wasm'))
    assert.deepEqual([...wasm.subarray(4, 8)], [0x0d, 0x00, 0x01, 0x00], 'a component, not a core module')

    const res = await fetch(`${srv.url}/function/hello-js/some/path?q=1`, { method: 'POST', body: 'ping' })
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'Hello from hello-js (JavaScript)! You sent: ping\n')
    assert.equal(res.headers.get('x-path'), '/some/path')
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    const status = JSON.parse(runCli(['describe', 'hello-js', '--json', '--gateway', srv.url, '--data-dir', dataDir]).out)
    assert.equal(status.annotations['com.kindling.tier'], 'wasm')
  })

  it('a handler without a default fetch is refused at build, with what to write', () => {
    const stack = path.join(work, 'stack.yml')
    fs.writeFileSync(path.join(work, 'hello-js', 'handler.js'), 'export const handle = () => 1\n')
    const r = runCli(['build', '-f', stack])
    assert.equal(r.code, 1)
    // esbuild sees the missing default export before componentize-js runs
    assert.match(r.err, /hello-js: the JavaScript does not bundle:[\s\S]*default[\s\S]*Fix it in .*hello-js/)
  })
})
