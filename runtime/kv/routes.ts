// /system/kv: the operator's view of the key-value stores functions keep (issue 13, item 2). Behind
// /system basic auth like every /system route; a function reaches only its granted stores, through
// its imports. Stores are per namespace and application: /system/kv/stores/{app}/{store}/...
// Keys are UTF-8 strings here (in the URL, percent-encoded); values are the raw body bytes.
import type { FastifyInstance } from 'fastify'
import { KindlingError } from '../errors.js'
import type { KvAdmin, KvAdminStore } from '../../isolation/wasm/host/kv-admin.js'
import { KV_ERROR, KV_STORE_NAME, type KvLimits } from '../../isolation/wasm/host/kv-backend.js'
import { validateNamespace } from '../names.js'
import { sendError } from '../gateway/reply.js'

export interface KvRouteOptions {
  admin: KvAdmin
  limits: KvLimits
  namespaces: readonly string[]
  defaultNamespace: string
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/
const MAX_LIST = 1000
const DEFAULT_LIST = 100

type StoreParams = { app: string; store: string; '*'?: string }
type Query = { namespace?: string; prefix?: string; cursor?: string; limit?: string; ttlMs?: string }

const invalid = (why: string) => new KindlingError('KINDLING_ERR_KV_INVALID_REQUEST', why)
const noStore = (ns: string, app: string, store: string) => new KindlingError('KINDLING_ERR_KV_STORE_NOT_FOUND', `no store ${store} of application ${app} in ${ns}`)

export function registerKvRoutes(app: FastifyInstance, opts: KvRouteOptions): void {
  const { admin, limits } = opts
  const nsOf = (q: Query) => (q.namespace ? validateNamespace(q.namespace, opts.namespaces) : opts.defaultNamespace)
  const names = (p: StoreParams) => {
    if (!NAME.test(p.app)) throw invalid(`${JSON.stringify(p.app)} is not an application name`)
    if (!KV_STORE_NAME.test(p.store)) throw invalid(`${JSON.stringify(p.store)} is not a store name (lower-case letters, digits, "-" and "_", at most 63)`)
    return p
  }
  const storeOf = async (q: Query, p: StoreParams, create = false): Promise<KvAdminStore> => {
    const ns = nsOf(q)
    const { app: a, store } = names(p)
    const s = await admin.open(ns, a, store, create)
    if (!s) throw noStore(ns, a, store)
    return s
  }
  const keyOf = (raw: string | undefined, what = 'key'): Buffer => {
    const k = Buffer.from(raw ?? '', 'utf8')
    if (k.length === 0) throw invalid(`the ${what} is empty`)
    if (k.length > limits.maxKeyBytes) throw new KindlingError('KINDLING_ERR_KV_KEY_TOO_LARGE', `the ${what} is ${k.length} bytes; keys are at most ${limits.maxKeyBytes} (KINDLING_KV_MAX_KEY_BYTES)`)
    return k
  }

  app.register(async (scope) => {
    // values are bytes, whatever their content type
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limits.maxValueBytes }, (_req, body, done) => done(null, body))

    scope.get<{ Querystring: Query }>('/system/kv/stores', async (req, reply) => {
      try {
        return reply.send(await admin.listStores(nsOf(req.query)))
      } catch (e) {
        return sendError(reply, e)
      }
    })

    scope.delete<{ Params: StoreParams; Querystring: Query }>('/system/kv/stores/:app/:store', async (req, reply) => {
      try {
        const ns = nsOf(req.query)
        const { app: a, store } = names(req.params)
        if (!(await admin.clear(ns, a, store))) throw noStore(ns, a, store)
        return reply.code(204).send()
      } catch (e) {
        return sendError(reply, e)
      }
    })

    scope.get<{ Params: StoreParams; Querystring: Query }>('/system/kv/stores/:app/:store/keys', async (req, reply) => {
      try {
        const q = req.query
        const s = await storeOf(q, req.params)
        const limit = q.limit === undefined ? DEFAULT_LIST : Number(q.limit)
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) throw invalid(`limit must be an integer from 1 to ${MAX_LIST}`)
        const prefix = q.prefix ? keyOf(q.prefix, 'prefix') : Buffer.alloc(0)
        const after = q.cursor ? keyOf(q.cursor, 'cursor') : undefined
        const keys = (await s.listKeys(prefix, after, limit)).map((k) => k.toString('utf8'))
        // the cursor is the last key of a full page: pass it back for the next one
        return reply.send({ keys, cursor: keys.length === limit ? keys[keys.length - 1] : null })
      } catch (e) {
        return sendError(reply, e)
      }
    })

    scope.get<{ Params: StoreParams; Querystring: Query }>('/system/kv/stores/:app/:store/keys/*', async (req, reply) => {
      try {
        const s = await storeOf(req.query, req.params)
        const key = keyOf(req.params['*'])
        const v = await s.get(key)
        if (v === undefined) throw new KindlingError('KINDLING_ERR_KV_NOT_FOUND', `no key ${JSON.stringify(key.toString('utf8'))} in the store`)
        return reply.type('application/octet-stream').send(v)
      } catch (e) {
        return sendError(reply, e)
      }
    })

    scope.put<{ Params: StoreParams; Querystring: Query; Body: Buffer | undefined }>('/system/kv/stores/:app/:store/keys/*', async (req, reply) => {
      try {
        const key = keyOf(req.params['*'])
        const ttlMs = req.query.ttlMs === undefined ? 0 : Number(req.query.ttlMs)
        if (!Number.isSafeInteger(ttlMs) || ttlMs < 0) throw invalid('ttlMs must be a whole number of milliseconds (0: no expiry)')
        const value = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
        // the operator may seed a store before a function first opens it
        const s = await storeOf(req.query, req.params, true)
        const rc = await s.set(key, value, ttlMs)
        if (rc === KV_ERROR.STORE_FULL) throw new KindlingError('KINDLING_ERR_KV_STORE_FULL', `the store holds ${limits.maxStoreBytes} bytes (KINDLING_KV_MAX_STORE_BYTES)`)
        // JetStream: a value past the NATS server's max_payload
        if (rc === KV_ERROR.VALUE_TOO_LARGE) throw new KindlingError('KINDLING_ERR_KV_VALUE_TOO_LARGE', `the value is ${value.length} bytes, more than one NATS message can carry (the server's max_payload)`)
        return reply.code(204).send()
      } catch (e) {
        return sendError(reply, e)
      }
    })

    scope.delete<{ Params: StoreParams; Querystring: Query }>('/system/kv/stores/:app/:store/keys/*', async (req, reply) => {
      try {
        const s = await storeOf(req.query, req.params)
        const key = keyOf(req.params['*'])
        if (!(await s.delete(key))) throw new KindlingError('KINDLING_ERR_KV_NOT_FOUND', `no key ${JSON.stringify(key.toString('utf8'))} in the store`)
        return reply.code(204).send()
      } catch (e) {
        return sendError(reply, e)
      }
    })
  })
}
