// OpenFaaS names: "fn" or "fn.namespace" in URLs (split at the last dot), validated the same way
// everywhere so that "../x", empty or overlong names never reach the registry or the disk.
import { KindlingError } from './errors.js'

const NAME = /^[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?$/
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
export const MAX_NAME_LENGTH = 63

export function validateName(name: unknown, what = 'function name'): string {
  if (typeof name !== 'string' || name.length === 0) throw new KindlingError('KINDLING_ERR_INVALID_NAME', `the ${what} is empty`)
  if (name.length > MAX_NAME_LENGTH) throw new KindlingError('KINDLING_ERR_INVALID_NAME', `the ${what} is ${name.length} characters long`)
  if (!NAME.test(name)) throw new KindlingError('KINDLING_ERR_INVALID_NAME', `${JSON.stringify(name)} is not a valid ${what}`)
  return name
}

export function validateNamespace(ns: unknown, allowed: readonly string[]): string {
  if (typeof ns !== 'string' || !NAMESPACE.test(ns) || ns.length > MAX_NAME_LENGTH) {
    throw new KindlingError('KINDLING_ERR_INVALID_NAMESPACE', `${JSON.stringify(ns)} is not a valid namespace`)
  }
  if (!allowed.includes(ns)) throw new KindlingError('KINDLING_ERR_INVALID_NAMESPACE', `namespace ${ns} is not served here (${allowed.join(', ')})`)
  return ns
}

/** Splits "fn.ns" at the last dot; a name without a dot is in the default namespace. */
export function splitQualifiedName(qualified: string, defaultNamespace: string): { name: string; namespace: string } {
  const dot = qualified.lastIndexOf('.')
  if (dot < 0) return { name: qualified, namespace: defaultNamespace }
  return { name: qualified.slice(0, dot), namespace: qualified.slice(dot + 1) }
}

/** What a caller's call or correlation id may look like to be kept (echoed, logged, passed on). */
const CALLER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

export function isCallerId(v: unknown): v is string {
  return typeof v === 'string' && CALLER_ID.test(v)
}

export function functionKey(name: string, namespace: string): string {
  return `${name}.${namespace}`
}
