// Key-value state is durable across kill -9 of `kindling serve` (its app hosts die with it), and a
// variable's value from the gateway's environment never shows in kindling's output.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, describe, it } from 'node:test'
import { exampleModule, tempDataDir } from '../helpers/kindling.js'
import { startServerProcess } from '../helpers/server-process.js'

const authOf = (dataDir: string) => `Basic ${Buffer.from(`admin:${fs.readFileSync(`${dataDir}/secrets/basic-auth-password`, 'utf8')}`).toString('base64')}`

describe('key-value state across kill -9', () => {
  const dirs: string[] = []
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

  it('keeps every answered increment after kindling is killed with SIGKILL and started again', async () => {
    const dataDir = tempDataDir()
    dirs.push(dataDir)
    const secretValue = 'variable-value-not-for-logs'
    const env = { KINDLING_VARIABLES_FROM_ENV: 'KV_KILL_TEST_VAR', KV_KILL_TEST_VAR: secretValue, KINDLING_LOG_LEVEL: 'debug' }
    let srv = await startServerProcess(dataDir, env)
    try {
      const auth = authOf(dataDir)
      const up = await fetch(`${srv.url}/system/artifacts`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/wasm' }, body: fs.readFileSync(exampleModule('kv-counter')) })
      const { image } = (await up.json()) as { image: string }
      const dep = await fetch(`${srv.url}/system/functions`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'counter', image, labels: { 'com.kindling.app': 'shop' }, annotations: { 'com.kindling.kv': 'counter', 'com.kindling.variables': 'KV_KILL_TEST_VAR' } }),
      })
      assert.equal(dep.status, 202)
      const call = async (body: string) => {
        const r = await fetch(`${srv.url}/function/counter`, { method: 'POST', body })
        assert.equal(r.status, 200)
        return r.text()
      }
      for (let i = 1; i <= 5; i++) assert.equal(await call(''), `${i}\n`)
      assert.equal(await call('var KV_KILL_TEST_VAR'), `${secretValue}\n`)
      await srv.kill9()
      assert.ok(!srv.output().includes(secretValue), 'the variable\'s value is not in kindling\'s output')

      srv = await startServerProcess(dataDir, env)
      assert.equal(await call(''), '6\n', 'the five answered increments survived')
    } finally {
      await srv.stop()
    }
  })
})
