// The SQLite KvBackend on its own: the KvBackend contract (kv-contract.ts), private files, and
// store names that cannot leave the data dir.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, describe, it } from 'node:test'
import { SqliteKvBackend } from '../../../isolation/wasm/host/kv-sqlite.js'
import { tempDataDir } from '../../helpers/kindling.js'
import { CONTRACT_LIMITS, kvContract } from './kv-contract.js'

describe('SQLite key-value backend', () => {
  const dir = tempDataDir('kindling-kv-')
  const kv = new SqliteKvBackend(dir, CONTRACT_LIMITS)
  after(() => {
    kv.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  kvContract(() => kv, () => new SqliteKvBackend(dir, CONTRACT_LIMITS))

  it('keeps files private and store names inside the data dir', () => {
    kv.open('openfaas-fn', 'shop', 'basic').set(Buffer.from('a'), Buffer.from('1'), 0)
    assert.equal(fs.statSync(SqliteKvBackend.fileOf(dir, 'openfaas-fn', 'shop', 'basic')).mode & 0o777, 0o600)
    assert.throws(() => kv.open('openfaas-fn', 'shop', '../x'))
  })
})
