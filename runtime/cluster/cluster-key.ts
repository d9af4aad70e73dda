// The cluster key: 32 random bytes the operator gives every node (KINDLING_CLUSTER_KEY_FILE), which
// seal secret values before they go into the cluster's KV bucket, so that NATS (its store, its
// operators, a stolen disk) only ever holds ciphertext. Make one with: head -c 32 /dev/urandom | xxd -p -c 64
import fs from 'node:fs'
import { ConfigError } from '../config.js'

export function readClusterKey(file: string): Buffer {
  if (!file) throw new ConfigError('a cluster node needs KINDLING_CLUSTER_KEY_FILE (or --cluster-key-file): a file with 32 random bytes, hex or base64, the same on every node')
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8').trim()
  } catch (e) {
    throw new ConfigError(`KINDLING_CLUSTER_KEY_FILE=${file}: ${(e as Error).message}`)
  }
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64')
  if (key.length !== 32) throw new ConfigError(`KINDLING_CLUSTER_KEY_FILE=${file}: expected 32 bytes as 64 hex digits or base64, got ${key.length} bytes`)
  return key
}
