import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { after, describe, it } from 'node:test'
import { exampleModule, startKindling, tempDataDir } from '../helpers/kindling.js'
import { isAlive, startServerProcess } from '../helpers/server-process.js'

const authOf = (dataDir: string) => `Basic ${Buffer.from(`admin:${fs.readFileSync(`${dataDir}/secrets/basic-auth-password`, 'utf8')}`).toString('base64')}`

async function uploadAndDeploy(url: string, auth: string, name: string, file: string): Promise<void> {
  const up = await fetch(`${url}/system/artifacts`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/wasm' }, body: fs.readFileSync(file) })
  assert.equal(up.status, 201)
  const { image, digest } = (await up.json()) as { image: string; digest: string }
  assert.match(digest, /^sha256:[0-9a-f]{64}$/)
  const dep = await fetch(`${url}/system/functions`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ service: name, image }) })
  assert.equal(dep.status, 202, await dep.clone().text())
}

/** Child processes of a pid (app hosts), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((s) => Number(s.trim())).filter(Boolean)
  } catch {
    return []
  }
}


describe('end to end over real HTTP on loopback', () => {
  const dirs: string[] = []
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

  it('start, upload, deploy, invoke, restart, invoke', async () => {
    const dataDir = tempDataDir()
    dirs.push(dataDir)
    let k = await startKindling({}, { dataDir, keepDataDir: true })
    let url = await k.listen()
    const auth = k.auth.authorization!
    await uploadAndDeploy(url, auth, 'echo', exampleModule('echo'))
    let r = await fetch(`${url}/function/echo`, { method: 'POST', body: 'before restart' })
    assert.equal(await r.text(), 'before restart')
    await k.close()

    k = await startKindling({}, { dataDir, keepDataDir: true })
    url = await k.listen()
    try {
      const list = (await (await fetch(`${url}/system/functions`, { headers: { authorization: auth } })).json()) as { name: string }[]
      assert.deepEqual(list.map((f) => f.name), ['echo'])
      r = await fetch(`${url}/function/echo`, { method: 'POST', body: 'after restart' })
      assert.equal(r.status, 200)
      assert.equal(await r.text(), 'after restart')
    } finally {
      await k.close()
    }
  })

  it('keeps every deployed function through kill -9, and leaves no app host behind', async () => {
    const dataDir = tempDataDir()
    dirs.push(dataDir)
    let srv = await startServerProcess(dataDir)
    const auth = authOf(dataDir)
    await uploadAndDeploy(srv.url, auth, 'sha', exampleModule('sha512sum'))
    await uploadAndDeploy(srv.url, auth, 'cat', exampleModule('cat'))
    assert.equal(await (await fetch(`${srv.url}/function/cat`, { method: 'POST', body: 'x' })).text(), 'x')
    const hosts = childrenOf(srv.child.pid!)
    assert.ok(hosts.length >= 2, `two app hosts run (${hosts})`)
    await srv.kill9()
    for (let i = 0; i < 50 && hosts.some(isAlive); i++) await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(hosts.filter(isAlive), [], 'app hosts exit when the gateway dies')

    srv = await startServerProcess(dataDir)
    try {
      const list = (await (await fetch(`${srv.url}/system/functions`, { headers: { authorization: auth } })).json()) as { name: string }[]
      assert.deepEqual(list.map((f) => f.name).sort(), ['cat', 'sha'])
      const r = await fetch(`${srv.url}/function/sha`, { method: 'POST', body: 'hello world' })
      assert.match(await r.text(), /^309ecc48/)
    } finally {
      await srv.stop()
    }
  })

  it('deploys the examples into a fresh data dir and prints where the password is', async () => {
    const dataDir = tempDataDir()
    dirs.push(dataDir)
    const srv = await startServerProcess(dataDir, { KINDLING_DEPLOY_EXAMPLES: 'true' })
    try {
      assert.match(srv.output(), new RegExp(`password in ${dataDir}/secrets/basic-auth-password`))
      assert.match(srv.output(), /try: curl -d 'hello' http:\/\/127\.0\.0\.1:\d+\/function\/echo/)
      assert.equal(await (await fetch(`${srv.url}/function/echo`, { method: 'POST', body: 'hello' })).text(), 'hello')
      assert.equal(await (await fetch(`${srv.url}/function/fib`, { method: 'POST', body: '10' })).text(), '55\n')
      assert.equal(await (await fetch(`${srv.url}/function/chain`, { method: 'POST', body: 'echo\nvia chain' })).text(), 'via chain')
      const headers = await fetch(`${srv.url}/function/set-headers`, { method: 'POST', body: 'X-Greeting: hello\n' })
      assert.equal(headers.headers.get('x-greeting'), 'hello')
      const component = await fetch(`${srv.url}/function/http-echo/a/b`, { method: 'POST', body: 'to the component' })
      assert.equal(component.headers.get('x-path'), '/a/b')
      assert.equal(await component.text(), 'to the component')
    } finally {
      await srv.stop()
    }
  })
})
