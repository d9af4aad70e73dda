// The database is kindling's alone: one gateway per data dir, refused with a message that says so.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it } from 'node:test'
import { openDatabase } from '../../../runtime/registry/db.js'
import { tempDataDir } from '../../helpers/kindling.js'

describe('kindling.db', () => {
  it('refuses a second gateway on the same data dir with a message that names it', () => {
    const dir = tempDataDir()
    const db = openDatabase(dir)
    try {
      assert.throws(() => openDatabase(dir), (e: Error) => e.message.includes(`the data dir ${dir} is in use by another kindling`))
      assert.ok(!fs.existsSync(`${dir}/kindling.db-shm`), 'the WAL index is in memory (exclusive locking): no -shm file to create on a full disk')
    } finally {
      db.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
