import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { exampleModule, tempDataDir } from '../helpers/kindling.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { REPO_ROOT } from '../../runtime/version.js'

describe('kindling CLI against a running gateway', () => {
  let dataDir: string
  let srv: ServerProcess
  before(async () => {
    dataDir = tempDataDir()
    srv = await startServerProcess(dataDir)
  })
  after(async () => {
    await srv.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  const cli = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'runtime/cli/main.ts'), ...args, '--data-dir', dataDir], {
      env: { ...process.env, OPENFAAS_URL: srv.url, ...opts.env },
      input: opts.input,
      encoding: 'utf8',
    })
    return { code: r.status, out: r.stdout, err: r.stderr }
  }

  it('deploys a .wasm in one step, invokes, lists, describes and removes it', () => {
    const dep = cli(['deploy', exampleModule('echo'), '--name', 'hello', '--label', 'team=a'])
    assert.equal(dep.code, 0, dep.err)
    assert.match(dep.out, /Deployed hello/)
    assert.equal(cli(['invoke', 'hello', '--data', 'hi there']).out, 'hi there')
    assert.equal(cli(['invoke', 'hello'], { input: 'from stdin' }).out, 'from stdin')
    const list = cli(['list'])
    assert.match(list.out, /^Function\s+Invocations\s+Replicas\s+Tier\s+Image/)
    assert.match(list.out, /hello\s+2\s+1\/1\s+wasm\s+wasm:sha256:/)
    assert.equal(JSON.parse(cli(['describe', 'hello', '--json']).out).labels.team, 'a')
    assert.equal(cli(['deploy', exampleModule('echo'), '--name', 'hello']).code, 0, 'a second deploy updates')
    assert.equal(cli(['remove', 'hello']).code, 0)
    const gone = cli(['invoke', 'hello', '--data', 'x'])
    assert.equal(gone.code, 1)
    assert.match(gone.err, /HTTP 404.*KINDLING_ERR_FUNCTION_NOT_FOUND/)
  })

  it('deploys an OpenFaaS stack.yml with a local .wasm image', () => {
    const dir = tempDataDir('kindling-stack-')
    fs.copyFileSync(exampleModule('sha512sum'), path.join(dir, 'sha.wasm'))
    fs.writeFileSync(path.join(dir, 'stack.yml'), `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  stronghash:
    image: ./sha.wasm
    environment:
      mode: \${MODE:-fast}
    labels:
      com.openfaas.scale.min: "2"
`)
    const dep = cli(['deploy', '-f', path.join(dir, 'stack.yml')])
    assert.equal(dep.code, 0, dep.err)
    const status = JSON.parse(cli(['describe', 'stronghash', '--json']).out)
    assert.deepEqual(status.envVars, { mode: 'fast' })
    assert.equal(status.replicas, 2)
    assert.match(cli(['invoke', 'stronghash', '--data', 'hello world']).out, /^309ecc48/)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('says clearly when the gateway is not reachable or the credentials are wrong', () => {
    const down = cli(['list'], { env: { OPENFAAS_URL: 'http://127.0.0.1:9' } })
    assert.equal(down.code, 1)
    assert.match(down.err, /cannot reach the kindling gateway at http:\/\/127\.0\.0\.1:9 .*Is it running\?/)
    const other = tempDataDir()
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'runtime/cli/main.ts'), 'list', '--data-dir', other], { env: { ...process.env, OPENFAAS_URL: srv.url, HOME: other }, encoding: 'utf8' })
    assert.equal(r.status, 1)
    assert.match(r.stderr, /HTTP 401/)
    fs.rmSync(other, { recursive: true, force: true })
  })
})
