// Issue 18, item 11: the data dir holds secret values, queued request bodies and the basic-auth
// password. Another user of the machine must not read any of it, and secret values are not stored
// in clear text (not in kindling.db, not in its WAL).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { secretKeyFileOf } from '../../../runtime/registry/secret-key.js'

const isRoot = process.getuid?.() === 0
const SECRET = 'plaintext-marker-3f9a0c7e-do-not-store'

/** Runs `cmd` as the user nobody; returns its exit status and stderr. */
function asNobody(...cmd: string[]): { status: number | null; stderr: string } {
  const r = spawnSync('runuser', ['-u', 'nobody', '--', ...cmd], { encoding: 'utf8' })
  return { status: r.status, stderr: r.stderr }
}

function modeOf(p: string): string {
  return (fs.statSync(p).mode & 0o777).toString(8)
}

function contains(file: string, needle: string): boolean {
  return fs.existsSync(file) && fs.readFileSync(file).includes(Buffer.from(needle))
}

describe('the data dir is private and secrets are sealed', { skip: isRoot ? false : 'needs root, to run a command as the user nobody' }, () => {
  // the parent is open to everyone (as a home dir or /var/lib would be), so only kindling's own modes protect the data
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-private-'))
  fs.chmodSync(parent, 0o755)
  const dataDir = path.join(parent, 'data')
  let k: TestKindling | undefined
  after(async () => {
    await k?.close()
    fs.rmSync(parent, { recursive: true, force: true })
  })

  it('makes a new data dir 0700 and its files 0600; nobody gets EACCES; the secret is not in the database or its WAL', async () => {
    k = await startKindling({ basicAuth: true }, { dataDir, keepDataDir: true })
    const value = Buffer.from(SECRET).toString('base64')
    const res = await k.app.inject({ method: 'POST', url: '/system/secrets', headers: k.auth, payload: { name: 'api-key', rawValue: value } })
    assert.equal(res.statusCode, 201, res.body)
    const image = await k.upload(exampleModule('echo'))
    const artifact = k.artifacts.pathOf(image.replace('wasm:sha256:', ''))
    // a queued call's body and headers are in the database too
    await k.deploy('echo', exampleModule('echo'), { labels: { 'com.kindling.isolation': 'inline' } })
    const acc = await k.app.inject({ method: 'POST', url: '/async-function/echo', headers: { authorization: 'Bearer caller-token' }, payload: 'queued body' })
    assert.equal(acc.statusCode, 202)

    // a finished call keeps no request headers (the caller's Authorization) for its retention
    const id = acc.headers['x-call-id'] as string
    for (let i = 0; i < 200 && k.asyncQueue.get(id)?.state !== 'done'; i++) await new Promise((r) => setTimeout(r, 25))
    assert.equal(k.asyncQueue.get(id)?.state, 'done')
    assert.equal((k.db.prepare('SELECT headers FROM async_calls WHERE id = ?').get(id) as { headers: string }).headers, '{}')

    // the value comes back to a function, and from the store
    assert.equal(k.secrets.read('openfaas-fn', 'api-key')?.toString(), SECRET)

    const db = path.join(dataDir, 'kindling.db')
    const wal = `${db}-wal`
    assert.ok(fs.existsSync(wal), 'the WAL exists while kindling runs')
    assert.equal(modeOf(dataDir), '700')
    for (const f of [db, wal, artifact, secretKeyFileOf(dataDir), path.join(dataDir, 'secrets', 'basic-auth-password')]) assert.equal(modeOf(f), '600', f)
    assert.equal(modeOf(path.join(dataDir, 'secrets')), '700')
    assert.ok(!contains(db, SECRET) && !contains(wal, SECRET), 'the secret value is not stored in clear text')

    for (const f of [db, wal, artifact]) {
      const r = asNobody('cat', f)
      assert.notEqual(r.status, 0, `nobody read ${f}`)
      assert.match(r.stderr, /Permission denied/, f)
    }
    const ls = asNobody('ls', path.join(dataDir, 'secrets'))
    assert.notEqual(ls.status, 0)
    assert.match(ls.stderr, /Permission denied/)
    await k.close()
    k = undefined
  })

  it('fixes an existing data dir left open, and seals secrets an older kindling stored in clear text', async () => {
    // as an older kindling left it: open modes and a clear-text row
    fs.chmodSync(dataDir, 0o755)
    const db = path.join(dataDir, 'kindling.db')
    fs.chmodSync(db, 0o644)
    fs.chmodSync(path.join(dataDir, 'secrets'), 0o755)
    const old = new Database(db)
    old.prepare("INSERT INTO secrets (namespace, name, value, sealed, created_at, updated_at) VALUES ('openfaas-fn', 'legacy', ?, 0, 'x', 'x')").run(Buffer.from(`${SECRET}-legacy`))
    old.close()
    assert.ok(contains(db, `${SECRET}-legacy`), 'the clear text is in the file before the start')

    k = await startKindling({ basicAuth: true }, { dataDir, keepDataDir: true })
    assert.equal(modeOf(dataDir), '700')
    assert.equal(modeOf(db), '600')
    assert.equal(modeOf(path.join(dataDir, 'secrets')), '700')
    assert.equal(k.secrets.read('openfaas-fn', 'legacy')?.toString(), `${SECRET}-legacy`)
    assert.equal(k.secrets.read('openfaas-fn', 'api-key')?.toString(), SECRET)
    assert.ok(!contains(db, SECRET) && !contains(`${db}-wal`, SECRET), 'no clear text left in the database or its WAL')
    assert.match(asNobody('cat', db).stderr, /Permission denied/)
  })

  it('does not open a sealed value moved to another secret (name and namespace are authenticated)', () => {
    const store = k!.secrets
    const row = k!.db.prepare("SELECT value FROM secrets WHERE name = 'api-key'").get() as { value: Buffer }
    k!.db.prepare("UPDATE secrets SET value = ? WHERE name = 'legacy'").run(row.value)
    assert.throws(() => store.read('openfaas-fn', 'legacy'), (e: Error & { code?: string }) => e.code === 'KINDLING_ERR_SECRET_UNREADABLE')
  })
})
