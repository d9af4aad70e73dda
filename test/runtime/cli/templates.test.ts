// kindling new / build / up with the C, Rust and AssemblyScript templates, against a real gateway
// process on loopback: each template is written, built, deployed through the stack's
// provider.gateway and called; up then builds and deploys only what changed.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import YAML from 'yaml'
import { rustWasiAvailable, runCli } from '../../helpers/cli.js'
import { tempDataDir } from '../../helpers/kindling.js'
import { type ServerProcess, startServerProcess } from '../../helpers/server-process.js'

const RUST = rustWasiAvailable()
const LANGS = [
  { lang: 'c', name: 'hello-c', label: 'C', handler: 'handler.c' },
  { lang: 'assemblyscript', name: 'hello-as', label: 'AssemblyScript', handler: 'handler.ts' },
  ...(RUST ? [{ lang: 'rust', name: 'hello-rs', label: 'Rust', handler: 'handler.rs' }] : []),
]
if (!RUST) console.log('# the Rust template is skipped: /usr/bin/rustc with the wasm32-wasi target is absent (apt-get install rustc libstd-rust-dev-wasm32)')

describe('kindling new, build and up with the C, Rust and AssemblyScript templates', () => {
  let dataDir: string
  let work: string
  let stack: string
  let srv: ServerProcess
  before(async () => {
    dataDir = tempDataDir()
    work = tempDataDir('kindling-templates-')
    stack = path.join(work, 'stack.yml')
    srv = await startServerProcess(dataDir)
  })
  after(async () => {
    await srv.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
    fs.rmSync(work, { recursive: true, force: true })
  })

  const call = async (name: string, body: string) => {
    const res = await fetch(`${srv.url}/function/${name}`, { method: 'POST', body })
    return { status: res.status, text: await res.text() }
  }

  it('new writes a function folder from the template and a stack.yml entry', () => {
    for (const [i, l] of LANGS.entries()) {
      // the first creates stack.yml with the gateway; the others add to it
      const r = runCli(['new', l.name, '--lang', l.lang, '-f', stack, ...(i === 0 ? ['--gateway', srv.url] : [])])
      assert.equal(r.code, 0, r.err)
      assert.match(r.out, new RegExp(`added ${l.name} to .*stack\\.yml[\\s\\S]*kindling up`))
      const handler = fs.readFileSync(path.join(work, l.name, l.handler), 'utf8')
      assert.ok(handler.includes(`Hello from ${l.name} (${l.label})`), 'the NAME placeholder is replaced')
      assert.ok(!handler.includes('{{NAME}}'))
      assert.ok(fs.existsSync(path.join(work, l.name, 'build.yml')))
    }
    const doc = YAML.parse(fs.readFileSync(stack, 'utf8'))
    assert.equal(doc.provider.gateway, srv.url)
    assert.deepEqual(doc.functions['hello-c'], { lang: 'c', handler: './hello-c', image: './hello-c/build/hello-c.wasm' })
    assert.deepEqual(Object.keys(doc.functions), LANGS.map((l) => l.name))
    const again = runCli(['new', 'hello-c', '--lang', 'c', '-f', stack])
    assert.equal(again.code, 1)
    assert.match(again.err, /already exists; pick another name/)
    const badLang = runCli(['new', 'x', '--lang', 'cobol', '-f', stack])
    assert.match(badLang.err, /kindling has templates for c, rust, assemblyscript, js/)
  })

  it('up builds every template and deploys it through provider.gateway; each answers', async () => {
    // no --gateway and no OPENFAAS_URL: the stack's provider.gateway is used
    const r = runCli(['up', '-f', stack, '--data-dir', dataDir])
    assert.equal(r.code, 0, r.err)
    for (const l of LANGS) {
      assert.match(r.out, new RegExp(`${l.name}: built .*${l.name}\\.wasm`))
      assert.match(r.out, new RegExp(`Deployed ${l.name} `))
      assert.deepEqual(await call(l.name, 'ping'), { status: 200, text: `Hello from ${l.name} (${l.label})! You sent: ping\n` })
    }
    assert.ok(fs.existsSync(path.join(work, 'hello-c', 'build', 'hello-c.wasm.source-sha256')), 'the source hash is kept beside the output')
  })

  it('up again builds and deploys nothing; a changed source rebuilds and redeploys that function only', async () => {
    const same = runCli(['up', '-f', stack, '--data-dir', dataDir])
    assert.equal(same.code, 0, same.err)
    for (const l of LANGS) {
      assert.match(same.out, new RegExp(`${l.name}: up to date`))
      assert.match(same.out, new RegExp(`${l.name}: unchanged on ${srv.url.replace(/\./g, '\\.')}, not deployed again`))
    }
    assert.match(same.out, /0 of \d functions deployed/)

    const file = path.join(work, 'hello-c', 'handler.c')
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('Hello from', 'Howdy from'))
    const changed = runCli(['up', '-f', stack, '--data-dir', dataDir])
    assert.equal(changed.code, 0, changed.err)
    assert.match(changed.out, /hello-c: built/)
    assert.match(changed.out, /Deployed hello-c /)
    assert.match(changed.out, /hello-as: up to date/)
    assert.match(changed.out, /hello-as: unchanged on/)
    assert.match(changed.out, /1 of \d functions deployed/)
    assert.equal((await call('hello-c', 'x')).text, 'Howdy from hello-c (C)! You sent: x\n')

    // a changed setting in stack.yml (not the code) deploys again too
    const doc = YAML.parseDocument(fs.readFileSync(stack, 'utf8'))
    doc.setIn(['functions', 'hello-as', 'labels'], { team: 'blue' })
    fs.writeFileSync(stack, doc.toString())
    const relabel = runCli(['up', '-f', stack, '--data-dir', dataDir, 'hello-as'])
    assert.equal(relabel.code, 0, relabel.err)
    assert.match(relabel.out, /hello-as: up to date[\s\S]*Deployed hello-as /)
    assert.doesNotMatch(relabel.out, /hello-c/)
    const status = JSON.parse(runCli(['describe', 'hello-as', '--json', '--gateway', srv.url, '--data-dir', dataDir]).out)
    assert.equal(status.labels.team, 'blue')
  })

  it('a build error shows the compiler output and says what to do', () => {
    const file = path.join(work, 'hello-c', 'handler.c')
    const good = fs.readFileSync(file, 'utf8')
    fs.writeFileSync(file, good + '\nthis is not C\n')
    const r = runCli(['build', '-f', stack, 'hello-c'])
    assert.equal(r.code, 1)
    assert.match(r.err, /hello-c: the c build failed \(clang exited with 1\)/)
    assert.match(r.err, /handler\.c:\d+:\d+: error/)
    assert.match(r.err, /Fix the error above in .*hello-c and run "kindling build hello-c" again/)
    fs.writeFileSync(file, good)
    const unknown = runCli(['build', '-f', stack, 'nope'])
    assert.match(unknown.err, /has no function nope to build \(it builds hello-c, hello-as/)
    const missing = runCli(['build', '-f', path.join(work, 'missing.yml')])
    assert.match(missing.err, /missing\.yml does not exist\. Give the stack file with -f FILE, or write one with "kindling new/)
  })
})
