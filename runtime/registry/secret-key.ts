// The key that seals secret values in SQLite: 256 random bits made on first start and kept next to
// the basic-auth password in <data dir>/secrets (0600), never in the database itself, so a copy of
// kindling.db (a backup, a leaked WAL) does not reveal secret values.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { KEY_BYTES } from './seal.js'
import { mkdirPrivate, PRIVATE_FILE_MODE } from './private.js'

export function secretKeyFileOf(dataDir: string): string {
  return path.join(dataDir, 'secrets', 'secrets.key')
}

export function loadOrCreateSecretKey(dataDir: string): Buffer {
  const file = secretKeyFileOf(dataDir)
  if (!fs.existsSync(file)) {
    mkdirPrivate(path.dirname(file))
    const tmp = `${file}.tmp-${process.pid}`
    const fd = fs.openSync(tmp, 'w', PRIVATE_FILE_MODE)
    try {
      fs.writeSync(fd, randomBytes(KEY_BYTES).toString('base64') + '\n')
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  }
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64')
  if (key.length !== KEY_BYTES) throw new Error(`${file} does not hold a ${KEY_BYTES * 8}-bit base64 key; restore it from a backup (secret values cannot be read without it)`)
  return key
}
