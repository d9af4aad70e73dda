// Basic auth on /system/*, as OpenFaaS does it: user "admin" and a password generated on first
// start into <data dir>/secrets/basic-auth-password (and basic-auth-user beside it).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

export interface Credentials {
  user: string
  password: string
  userFile: string
  passwordFile: string
}

export function loadOrCreateCredentials(dataDir: string): Credentials {
  const dir = path.join(dataDir, 'secrets')
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const userFile = path.join(dir, 'basic-auth-user')
  const passwordFile = path.join(dir, 'basic-auth-password')
  if (!fs.existsSync(userFile)) fs.writeFileSync(userFile, 'admin', { mode: 0o600 })
  if (!fs.existsSync(passwordFile)) {
    const tmp = `${passwordFile}.tmp-${process.pid}`
    fs.writeFileSync(tmp, randomBytes(24).toString('base64url'), { mode: 0o600 })
    fs.renameSync(tmp, passwordFile)
  }
  return { user: fs.readFileSync(userFile, 'utf8').trim(), password: fs.readFileSync(passwordFile, 'utf8').trim(), userFile, passwordFile }
}

/** the scheme name is case-insensitive (RFC 7617, RFC 9110 11.1); the token is base64 */
const BASIC = /^basic[ \t]+(\S+)[ \t]*$/i

/** True when an Authorization header carries these credentials (constant-time comparison). */
export function checkBasicAuth(header: unknown, creds: Credentials): boolean {
  if (typeof header !== 'string') return false
  const m = BASIC.exec(header)
  if (!m) return false
  const given = Buffer.from(m[1]!, 'base64')
  // Node's decoder skips stray characters: only the canonical encoding of the credentials counts
  if (given.toString('base64') !== m[1]) return false
  // digests of equal length: the comparison takes the same time whatever the length given
  const digest = (b: Buffer) => createHash('sha256').update(b).digest()
  return timingSafeEqual(digest(given), digest(Buffer.from(`${creds.user}:${creds.password}`)))
}
