// /system/secrets: create, list (names only), replace and delete secrets, with the status codes
// OpenFaaS clients expect (409 when it exists, 404 when it does not, 202 on delete).
import type { FastifyInstance } from 'fastify'
import { KindlingError } from '../../errors.js'
import { validateName, validateNamespace } from '../../names.js'
import type { Registry } from '../../registry/registry.js'
import { sendError } from '../reply.js'

interface SecretBody {
  name?: unknown
  namespace?: unknown
  value?: unknown
  rawValue?: unknown
}

export interface SecretRouteOptions {
  /** keeps the secrets; a replaced one reaches the functions that mount it before PUT answers */
  registry: Registry
  namespaces: readonly string[]
  defaultNamespace: string
  /** largest secret value in bytes */
  maxSecretBytes: number
}

/** standard base64 with its padding, as Go's []byte marshals (faas-cli secret create --from-file) */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The bytes of a secret: exactly one of value (text) or rawValue (base64), not empty, not too large. */
export function secretValue(b: SecretBody, maxBytes: number): Buffer {
  const hasValue = b.value !== undefined && b.value !== null && b.value !== ''
  const hasRaw = b.rawValue !== undefined && b.rawValue !== null && b.rawValue !== ''
  const bad = (why: string) => new KindlingError('KINDLING_ERR_INVALID_SECRET_VALUE', why)
  if (!hasValue && !hasRaw) throw new KindlingError('KINDLING_ERR_MISSING_FIELD', 'a secret needs a value (string) or a rawValue (base64)')
  if (hasValue && hasRaw) throw bad('value and rawValue are both set; send one of them')
  let value: Buffer
  if (hasValue) {
    if (typeof b.value !== 'string') throw bad('value must be a string')
    if (Buffer.byteLength(b.value) > maxBytes) throw bad(`value is ${Buffer.byteLength(b.value)} bytes, more than ${maxBytes}`)
    value = Buffer.from(b.value, 'utf8')
  } else {
    if (typeof b.rawValue !== 'string') throw bad('rawValue must be a base64 string')
    // checked before decoding: Node's decoder skips what is not base64 and would store the rest
    if (!BASE64.test(b.rawValue)) throw bad('rawValue is not standard base64 (A-Z, a-z, 0-9, "+", "/", "=" padding)')
    if ((b.rawValue.length / 4) * 3 > maxBytes + 2) throw bad(`rawValue decodes to more than ${maxBytes} bytes`)
    value = Buffer.from(b.rawValue, 'base64')
  }
  if (value.length > maxBytes) throw bad(`the secret is ${value.length} bytes, more than ${maxBytes}`)
  return value
}

export function registerSecretRoutes(app: FastifyInstance, opts: SecretRouteOptions): void {
  const { registry } = opts
  const nsOf = (body: SecretBody | undefined, query: { namespace?: string }) => {
    const ns = (body?.namespace as string | undefined) || query.namespace
    return ns ? validateNamespace(ns, opts.namespaces) : opts.defaultNamespace
  }
  const parse = (body: unknown, needValue: boolean) => {
    if (typeof body !== 'object' || body === null) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', 'the body must be a JSON object {"name", "value" or "rawValue"}')
    const b = body as SecretBody
    const name = validateName(b.name, 'secret name')
    if (!needValue) return { b, name, value: Buffer.alloc(0) }
    const value = secretValue(b, opts.maxSecretBytes)
    return { b, name, value }
  }

  app.get<{ Querystring: { namespace?: string } }>('/system/secrets', async (req, reply) => {
    try {
      return reply.send(registry.listSecrets(nsOf(undefined, req.query)))
    } catch (e) {
      return sendError(reply, e)
    }
  })

  app.post<{ Querystring: { namespace?: string } }>('/system/secrets', async (req, reply) => {
    try {
      const { b, name, value } = parse(req.body, true)
      const ns = nsOf(b, req.query)
      if (!(await registry.createSecret(ns, name, value))) throw new KindlingError('KINDLING_ERR_SECRET_EXISTS', `secret ${name} already exists in ${ns}`)
      return reply.code(201).send()
    } catch (e) {
      return sendError(reply, e)
    }
  })

  app.put<{ Querystring: { namespace?: string } }>('/system/secrets', async (req, reply) => {
    try {
      const { b, name, value } = parse(req.body, true)
      const ns = nsOf(b, req.query)
      if (!(await registry.updateSecret(ns, name, value))) throw new KindlingError('KINDLING_ERR_SECRET_NOT_FOUND', `secret ${name} does not exist in ${ns}`)
      return reply.code(202).send()
    } catch (e) {
      return sendError(reply, e)
    }
  })

  app.delete<{ Querystring: { namespace?: string } }>('/system/secrets', async (req, reply) => {
    try {
      const { b, name } = parse(req.body, false)
      const ns = nsOf(b, req.query)
      if (!(await registry.deleteSecret(ns, name))) throw new KindlingError('KINDLING_ERR_SECRET_NOT_FOUND', `secret ${name} does not exist in ${ns}`)
      return reply.code(202).send()
    } catch (e) {
      return sendError(reply, e)
    }
  })
}
