// OpenFaaS secrets for one sandbox: each secret named in the deployment becomes a file in a folder
// that is bind-mounted read-only at /var/openfaas/secrets, so /var/openfaas/secrets/<name> holds
// its value. Values are read when the sandbox is made, so an updated secret reaches new sandboxes.
import fs from 'node:fs'
import path from 'node:path'
import { KindlingError } from '../errors.js'

export const SECRETS_IN_CONTAINER = '/var/openfaas/secrets'
const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/

export function checkSecretNames(names: string[]): void {
  for (const n of names) {
    if (!SECRET_NAME.test(n) || n.includes('..')) {
      throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `secret name "${n}" is not valid (letters, digits, ".", "_" and "-")`)
    }
  }
}

export function writeSecrets(dir: string, namespace: string, names: string[], read: (ns: string, name: string) => Buffer | undefined): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 })
  for (const name of names) {
    const value = read(namespace, name)
    if (value === undefined) {
      throw new KindlingError('KINDLING_ERR_SECRET_NOT_FOUND', `secret "${name}" does not exist in namespace ${namespace}`)
    }
    const file = path.join(dir, name)
    fs.writeFileSync(file, value, { mode: 0o444 })
  }
}
