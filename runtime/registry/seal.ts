// Secret values at rest: AES-256-GCM with a random 96-bit nonce per value and the secret's
// namespace and name as associated data, so a sealed value moved to another row does not open.
// Layout: version byte (1) | nonce (12) | ciphertext | tag (16).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const VERSION = 1
const NONCE_BYTES = 12
const TAG_BYTES = 16
export const KEY_BYTES = 32

function aad(namespace: string, name: string): Buffer {
  return Buffer.from(`kindling-secret\0${namespace}\0${name}`)
}

export function seal(key: Buffer, namespace: string, name: string, value: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES)
  const c = createCipheriv('aes-256-gcm', key, nonce)
  c.setAAD(aad(namespace, name))
  const body = Buffer.concat([c.update(value), c.final()])
  return Buffer.concat([Buffer.of(VERSION), nonce, body, c.getAuthTag()])
}

/** The value, or throws when the blob was not sealed with this key for this secret. */
export function unseal(key: Buffer, namespace: string, name: string, blob: Buffer): Buffer {
  if (blob.length < 1 + NONCE_BYTES + TAG_BYTES || blob[0] !== VERSION) throw new Error('not a sealed secret value')
  const nonce = blob.subarray(1, 1 + NONCE_BYTES)
  const d = createDecipheriv('aes-256-gcm', key, nonce)
  d.setAAD(aad(namespace, name))
  d.setAuthTag(blob.subarray(blob.length - TAG_BYTES))
  return Buffer.concat([d.update(blob.subarray(1 + NONCE_BYTES, blob.length - TAG_BYTES)), d.final()])
}
