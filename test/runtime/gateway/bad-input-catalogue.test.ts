// The bad-input catalogue (issue 18, "figures to report"): one row per hostile or broken request,
// over every route. Each row must get its 4xx (or a documented 501/503/507) with a KINDLING_ERR_*
// code when kindling made the error, and the gateway must still answer /healthz afterwards.
// bad-input.test.ts holds the older, hand-written cases; none of them is repeated here.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { wasiCommand, wat } from '../../helpers/wat.js'

interface Ctx {
  image: string
  hugeMemoryImage: string
  cat: Buffer
}

type Body = string | Buffer | object
type Status = number | '4xx'

interface Row {
  name: string
  method: string
  url: string
  /** send the operator's credentials (default: true on /system/*) */
  auth?: boolean
  headers?: Record<string, string>
  body?: Body | ((c: Ctx) => Body)
  status: Status
  /** the code kindling must answer with; a RegExp for a code another branch is adding; null: not kindling's error */
  code: string | RegExp | null
  todo?: string
  skip?: string
}

const MiB = 1024 * 1024
const AUTH_MISSING = 'KINDLING_ERR_UNAUTHORIZED'
const ANY_CODE = /^KINDLING_ERR_[A-Z_]+$/
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
const deployment = (extra: Record<string, unknown>) => (c: Ctx) => ({ service: 'bad', image: c.image, ...extra })
const labelled = (labels: Record<string, unknown>) => deployment({ labels })

/** A mutated copy of a valid module. */
const mutate = (f: (b: Buffer) => Buffer) => (c: Ctx) => f(Buffer.from(c.cat))
const flip = (offset: number) => mutate((b) => {
  b[offset] = b[offset]! ^ 0xff
  return b
})
const HEADER = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
const wasmOf = (...parts: number[][]) => Buffer.concat([HEADER, Buffer.from(parts.flat())])

const ROWS: Row[] = [
  // --- authentication on /system/* -----------------------------------------------------------
  { name: 'list without credentials', method: 'GET', url: '/system/functions', auth: false, status: 401, code: AUTH_MISSING },
  { name: 'list with a wrong password', method: 'GET', url: '/system/functions', auth: false, headers: { authorization: basic('admin', 'guess') }, status: 401, code: AUTH_MISSING },
  { name: 'list with a wrong user', method: 'GET', url: '/system/functions', auth: false, headers: { authorization: basic('root', 'guess') }, status: 401, code: AUTH_MISSING },
  { name: 'a Bearer token instead of basic auth', method: 'GET', url: '/system/functions', auth: false, headers: { authorization: 'Bearer abc.def.ghi' }, status: 401, code: AUTH_MISSING },
  { name: 'basic auth that is not base64', method: 'GET', url: '/system/functions', auth: false, headers: { authorization: 'Basic !!!*&^%$' }, status: 401, code: AUTH_MISSING },
  { name: 'basic auth without a colon', method: 'GET', url: '/system/functions', auth: false, headers: { authorization: `Basic ${Buffer.from('admin').toString('base64')}` }, status: 401, code: AUTH_MISSING },
  { name: 'an empty Authorization header', method: 'GET', url: '/system/functions', auth: false, headers: { authorization: '' }, status: 401, code: AUTH_MISSING },
  { name: 'a 64 KiB Authorization header', method: 'GET', url: '/system/functions', auth: false, headers: { authorization: `Basic ${'A'.repeat(64 * 1024)}` }, status: 401, code: AUTH_MISSING },
  { name: 'deploy without credentials', method: 'POST', url: '/system/functions', auth: false, body: deployment({}), status: 401, code: AUTH_MISSING },
  { name: 'update without credentials', method: 'PUT', url: '/system/functions', auth: false, body: deployment({}), status: 401, code: AUTH_MISSING },
  { name: 'remove without credentials', method: 'DELETE', url: '/system/functions', auth: false, body: { functionName: 'cat' }, status: 401, code: AUTH_MISSING },
  { name: 'describe without credentials', method: 'GET', url: '/system/function/cat', auth: false, status: 401, code: AUTH_MISSING },
  { name: 'scale without credentials', method: 'POST', url: '/system/scale-function/cat', auth: false, body: { replicas: 0 }, status: 401, code: AUTH_MISSING },
  { name: 'info without credentials', method: 'GET', url: '/system/info', auth: false, status: 401, code: AUTH_MISSING },
  { name: 'namespaces without credentials', method: 'GET', url: '/system/namespaces', auth: false, status: 401, code: AUTH_MISSING },
  { name: 'secrets list without credentials', method: 'GET', url: '/system/secrets', auth: false, status: 401, code: AUTH_MISSING },
  { name: 'secret create without credentials', method: 'POST', url: '/system/secrets', auth: false, body: { name: 's', value: 'v' }, status: 401, code: AUTH_MISSING },
  { name: 'secret delete without credentials', method: 'DELETE', url: '/system/secrets', auth: false, body: { name: 'existing' }, status: 401, code: AUTH_MISSING },
  { name: 'logs without credentials', method: 'GET', url: '/system/logs?name=cat', auth: false, status: 401, code: AUTH_MISSING },
  { name: 'upload without credentials', method: 'POST', url: '/system/artifacts', auth: false, headers: { 'content-type': 'application/wasm' }, body: (c) => c.cat, status: 401, code: AUTH_MISSING },
  { name: 'artifact list without credentials', method: 'GET', url: '/system/artifacts', auth: false, status: 401, code: AUTH_MISSING },
  { name: 'async call state without credentials', method: 'GET', url: '/system/async-calls/abc', auth: false, status: 401, code: AUTH_MISSING },
  { name: 'async call cancel without credentials', method: 'DELETE', url: '/system/async-calls/abc', auth: false, status: 401, code: AUTH_MISSING },
  {
    name: 'the auth scheme in lower case is accepted (RFC 7617)', method: 'GET', url: '/system/namespaces', auth: false, headers: { authorization: 'LOWER' },
    status: 200, code: null,
  },

  // --- POST/PUT /system/functions: malformed JSON, wrong types, junk ----------------------------
  { name: 'deploy: JSON cut short', method: 'POST', url: '/system/functions', body: '{"service":"x","image":"wasm:', status: 400, code: 'KINDLING_ERR_INVALID_JSON' },
  { name: 'deploy: a JSON array', method: 'POST', url: '/system/functions', body: '[1,2,3]', status: '4xx', code: ANY_CODE },
  { name: 'deploy: JSON null', method: 'POST', url: '/system/functions', body: 'null', status: '4xx', code: ANY_CODE },
  { name: 'deploy: a JSON number', method: 'POST', url: '/system/functions', body: '42', status: '4xx', code: ANY_CODE },
  { name: 'deploy: a JSON string', method: 'POST', url: '/system/functions', body: '"cat"', status: '4xx', code: ANY_CODE },
  { name: 'deploy: bytes that are not UTF-8', method: 'POST', url: '/system/functions', body: Buffer.from([0x7b, 0xff, 0xfe, 0x22, 0x7d]), status: 400, code: 'KINDLING_ERR_INVALID_JSON' },
  { name: 'deploy: __proto__ in the body', method: 'POST', url: '/system/functions', body: (c) => `{"service":"proto","image":"${c.image}","__proto__":{"admin":true}}`, status: 400, code: ANY_CODE },
  { name: 'deploy: constructor.prototype in the body', method: 'POST', url: '/system/functions', body: (c) => `{"service":"proto","image":"${c.image}","constructor":{"prototype":{"admin":true}}}`, status: 400, code: ANY_CODE },
  { name: 'deploy: service is a number', method: 'POST', url: '/system/functions', body: deployment({ service: 12 }), status: 400, code: /^KINDLING_ERR_(INVALID_NAME|INVALID_FIELD|MISSING_FIELD)$/ },
  { name: 'deploy: service is an object', method: 'POST', url: '/system/functions', body: deployment({ service: { $ne: 1 } }), status: 400, code: /^KINDLING_ERR_(INVALID_NAME|INVALID_FIELD|MISSING_FIELD)$/ },
  { name: 'deploy: a NUL in the service name', method: 'POST', url: '/system/functions', body: deployment({ service: 'a\u0000b' }), status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'deploy: a unicode service name', method: 'POST', url: '/system/functions', body: deployment({ service: 'fa\u00e7ade-\u{1F525}' }), status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'deploy: a right-to-left override in the name', method: 'POST', url: '/system/functions', body: deployment({ service: 'cat\u202egpj' }), status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'deploy: service ".."', method: 'POST', url: '/system/functions', body: deployment({ service: '..' }), status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'deploy: service "%2e%2e%2fetc"', method: 'POST', url: '/system/functions', body: deployment({ service: '%2e%2e%2fetc' }), status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'deploy: image is a number', method: 'POST', url: '/system/functions', body: deployment({ image: 1 }), status: 400, code: /^KINDLING_ERR_(INVALID_IMAGE|INVALID_FIELD|MISSING_FIELD)$/ },
  { name: 'deploy: image with path traversal', method: 'POST', url: '/system/functions', body: deployment({ image: 'wasm:sha256:../../../../etc/passwd' }), status: 400, code: 'KINDLING_ERR_INVALID_IMAGE' },
  { name: 'deploy: an OCI image that is not there, with traversal', method: 'POST', url: '/system/functions', body: deployment({ image: '../../../etc/passwd' }), status: 400, code: ANY_CODE },
  { name: 'deploy: labels is a string', method: 'POST', url: '/system/functions', body: deployment({ labels: 'com.kindling.isolation=inline' }), status: 400, code: ANY_CODE },
  { name: 'deploy: a label value is an object', method: 'POST', url: '/system/functions', body: labelled({ 'com.kindling.isolation': { tier: 'inline' } }), status: 400, code: ANY_CODE },
  { name: 'deploy: envVars is an array', method: 'POST', url: '/system/functions', body: deployment({ envVars: ['A=1'] }), status: 400, code: ANY_CODE },
  { name: 'deploy: an envVars value is a number', method: 'POST', url: '/system/functions', body: deployment({ envVars: { A: 1 } }), status: 400, code: ANY_CODE },
  { name: 'deploy: secrets is a string', method: 'POST', url: '/system/functions', body: deployment({ secrets: 'existing' }), status: 400, code: ANY_CODE },
  { name: 'deploy: a secret name with traversal', method: 'POST', url: '/system/functions', body: deployment({ secrets: ['../../secrets/basic-auth-password'] }), status: 400, code: ANY_CODE },
  { name: 'deploy: limits.memory is a number', method: 'POST', url: '/system/functions', body: deployment({ limits: { memory: 128 } }), status: 400, code: ANY_CODE },
  { name: 'deploy: a negative memory limit', method: 'POST', url: '/system/functions', body: deployment({ limits: { memory: '-128Mi' } }), status: 400, code: 'KINDLING_ERR_INVALID_LIMIT' },
  { name: 'deploy: a memory limit of 1e30 Ei', method: 'POST', url: '/system/functions', body: deployment({ limits: { memory: '1e30Ei' } }), status: 400, code: 'KINDLING_ERR_INVALID_LIMIT' },
  { name: 'deploy: a cpu limit of -1', method: 'POST', url: '/system/functions', body: deployment({ limits: { cpu: '-1' } }), status: 400, code: 'KINDLING_ERR_INVALID_LIMIT' },
  { name: 'deploy: requests.memory that does not parse', method: 'POST', url: '/system/functions', body: deployment({ requests: { memory: 'lots' } }), status: 400, code: 'KINDLING_ERR_INVALID_LIMIT' },
  { name: 'deploy: a negative scale.min', method: 'POST', url: '/system/functions', body: labelled({ 'com.openfaas.scale.min': '-5' }), status: 400, code: 'KINDLING_ERR_INVALID_LABEL' },
  { name: 'deploy: scale.min is not a number', method: 'POST', url: '/system/functions', body: labelled({ 'com.openfaas.scale.min': 'many' }), status: 400, code: 'KINDLING_ERR_INVALID_LABEL' },
  { name: 'deploy: scale.min above scale.max', method: 'POST', url: '/system/functions', body: labelled({ 'com.openfaas.scale.min': '5', 'com.openfaas.scale.max': '2' }), status: 400, code: 'KINDLING_ERR_INVALID_LABEL' },
  { name: 'deploy: scale.min of 1e999', method: 'POST', url: '/system/functions', body: labelled({ 'com.openfaas.scale.min': '1e999' }), status: 400, code: 'KINDLING_ERR_INVALID_LABEL' },
  {
    name: 'deploy: scale.min=1000000 is above the replica cap', method: 'POST', url: '/system/functions', body: labelled({ 'com.openfaas.scale.min': '1000000', 'com.kindling.isolation': 'inline' }),
    status: 400, code: 'KINDLING_ERR_TOO_MANY_REPLICAS',
  },
  { name: 'deploy: a timeout label that is not a duration', method: 'POST', url: '/system/functions', body: labelled({ 'com.kindling.timeout': 'forever' }), status: 400, code: 'KINDLING_ERR_INVALID_LABEL' },
  { name: 'deploy: a negative exec_timeout', method: 'POST', url: '/system/functions', body: deployment({ envVars: { exec_timeout: '-5s' } }), status: 400, code: 'KINDLING_ERR_INVALID_LABEL' },
  { name: 'deploy: an app label with traversal', method: 'POST', url: '/system/functions', body: labelled({ 'com.kindling.app': '../other' }), status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'deploy: an unknown namespace', method: 'POST', url: '/system/functions', body: deployment({ namespace: 'kube-system' }), status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'deploy: a namespace with traversal', method: 'POST', url: '/system/functions', body: deployment({ namespace: '../..' }), status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'deploy: a function that exists', method: 'POST', url: '/system/functions', body: deployment({ service: 'cat' }), status: 409, code: 'KINDLING_ERR_FUNCTION_EXISTS' },
  { name: 'deploy: initial memory above the limit (60000 pages)', method: 'POST', url: '/system/functions', body: (c) => ({ service: 'huge-mem', image: c.hugeMemoryImage }), status: 400, code: 'KINDLING_ERR_MEMORY_TOO_SMALL' },
  { name: 'deploy: 10,000 nested arrays', method: 'POST', url: '/system/functions', body: '['.repeat(10_000) + ']'.repeat(10_000), status: '4xx', code: ANY_CODE },
  { name: 'deploy: a body over the limit', method: 'POST', url: '/system/functions', body: (c) => JSON.stringify({ service: 'big', image: c.image, envVars: { PAD: 'x'.repeat(MiB) } }), status: 413, code: 'KINDLING_ERR_PAYLOAD_TOO_LARGE' },
  { name: 'deploy: multipart form data', method: 'POST', url: '/system/functions', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x\r\nContent-Disposition: form-data; name="service"\r\n\r\ncat\r\n--x--\r\n', status: 400, code: 'KINDLING_ERR_INVALID_JSON' },
  { name: 'update: a function that does not exist', method: 'PUT', url: '/system/functions', body: deployment({ service: 'nobody' }), status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'update: malformed JSON', method: 'PUT', url: '/system/functions', body: '{{', status: 400, code: 'KINDLING_ERR_INVALID_JSON' },
  { name: 'update: a NUL in the name', method: 'PUT', url: '/system/functions', body: deployment({ service: 'cat\u0000' }), status: 400, code: 'KINDLING_ERR_INVALID_NAME' },

  // --- DELETE /system/functions ----------------------------------------------------------------
  { name: 'remove: no body', method: 'DELETE', url: '/system/functions', status: 400, code: /^KINDLING_ERR_(MISSING_FIELD|INVALID_JSON)$/ },
  { name: 'remove: functionName is a number', method: 'DELETE', url: '/system/functions', body: { functionName: 7 }, status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'remove: functionName with traversal', method: 'DELETE', url: '/system/functions', body: { functionName: '../../kindling.db' }, status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'remove: a function that does not exist', method: 'DELETE', url: '/system/functions', body: { functionName: 'nobody' }, status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'remove: a JSON string body', method: 'DELETE', url: '/system/functions', body: '"cat"', status: 400, code: ANY_CODE },
  { name: 'remove: an unknown namespace in the query', method: 'DELETE', url: '/system/functions?namespace=default', body: { functionName: 'cat' }, status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },

  // --- GET /system/functions and /system/function/{name} -------------------------------------
  { name: 'list: an unknown namespace', method: 'GET', url: '/system/functions?namespace=kube-system', status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'list: a bad percent escape in the query', method: 'GET', url: '/system/functions?namespace=%ZZ%', status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'list: the namespace given twice', method: 'GET', url: '/system/functions?namespace=openfaas-fn&namespace=x', status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'describe: %2e%2e', method: 'GET', url: '/system/function/%2e%2e', status: '4xx', code: ANY_CODE },
  { name: 'describe: ..%2f..%2fetc%2fpasswd', method: 'GET', url: '/system/function/..%2f..%2fetc%2fpasswd', status: '4xx', code: ANY_CODE },
  { name: 'describe: a NUL in the name', method: 'GET', url: '/system/function/cat%00', status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'describe: a unicode name', method: 'GET', url: '/system/function/%F0%9F%94%A5', status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'describe: a name of 5,000 characters', method: 'GET', url: `/system/function/${'a'.repeat(5000)}`, status: 414, code: 'KINDLING_ERR_URI_TOO_LONG' },
  { name: 'describe: an unknown namespace after the dot', method: 'GET', url: '/system/function/cat.kube-system', status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'describe: a namespace query given twice', method: 'GET', url: '/system/function/cat?namespace=a&namespace=b', status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'describe: the wrong method', method: 'DELETE', url: '/system/function/cat', status: '4xx', code: ANY_CODE },

  // --- POST /system/scale-function/{name} ------------------------------------------------------
  { name: 'scale: no body', method: 'POST', url: '/system/scale-function/cat', status: 400, code: /^KINDLING_ERR_(MISSING_FIELD|INVALID_JSON)$/ },
  { name: 'scale: replicas is a string', method: 'POST', url: '/system/scale-function/cat', body: { replicas: '3' }, status: 400, code: 'KINDLING_ERR_INVALID_FIELD' },
  { name: 'scale: negative replicas', method: 'POST', url: '/system/scale-function/cat', body: { replicas: -1 }, status: 400, code: 'KINDLING_ERR_INVALID_FIELD' },
  { name: 'scale: fractional replicas', method: 'POST', url: '/system/scale-function/cat', body: { replicas: 1.5 }, status: 400, code: 'KINDLING_ERR_INVALID_FIELD' },
  { name: 'scale: replicas null', method: 'POST', url: '/system/scale-function/cat', body: { replicas: null }, status: 400, code: 'KINDLING_ERR_INVALID_FIELD' },
  { name: 'scale: replicas 1e400 (Infinity after parsing)', method: 'POST', url: '/system/scale-function/cat', body: '{"replicas": 1e400}', status: 400, code: 'KINDLING_ERR_INVALID_FIELD' },
  {
    name: 'scale: 1,000,000 replicas is above the cap', method: 'POST', url: '/system/scale-function/cat', body: { replicas: 1_000_000 },
    status: 400, code: 'KINDLING_ERR_TOO_MANY_REPLICAS',
  },
  { name: 'scale: serviceName differs from the URL', method: 'POST', url: '/system/scale-function/cat', body: { serviceName: 'other', replicas: 1 }, status: 400, code: 'KINDLING_ERR_INVALID_FIELD' },
  { name: 'scale: a name with traversal', method: 'POST', url: '/system/scale-function/..%2fcat', body: { replicas: 1 }, status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'scale: a function that does not exist', method: 'POST', url: '/system/scale-function/nobody', body: { replicas: 1 }, status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'scale: the wrong method', method: 'GET', url: '/system/scale-function/cat', status: '4xx', code: ANY_CODE },

  // --- /system/info, /system/namespaces --------------------------------------------------------
  { name: 'info: the wrong method', method: 'POST', url: '/system/info', body: {}, status: '4xx', code: ANY_CODE },
  { name: 'namespaces: the wrong method', method: 'DELETE', url: '/system/namespaces', status: '4xx', code: ANY_CODE },
  { name: 'namespace CRUD is Enterprise-only (501)', method: 'POST', url: '/system/namespace/evil', body: {}, status: 501, code: 'KINDLING_ERR_NOT_IMPLEMENTED' },

  // --- /system/secrets -------------------------------------------------------------------------
  { name: 'secret: no body', method: 'POST', url: '/system/secrets', status: 400, code: /^KINDLING_ERR_(INVALID_FIELD|INVALID_JSON|MISSING_FIELD)$/ },
  { name: 'secret: no name', method: 'POST', url: '/system/secrets', body: { value: 'v' }, status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'secret: a name with traversal', method: 'POST', url: '/system/secrets', body: { name: '../basic-auth-password', value: 'v' }, status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'secret: a name with a NUL', method: 'POST', url: '/system/secrets', body: { name: 'a\u0000b', value: 'v' }, status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'secret: value is a number', method: 'POST', url: '/system/secrets', body: { name: 's-num', value: 42 }, status: 400, code: 'KINDLING_ERR_INVALID_SECRET_VALUE' },
  { name: 'secret: value and rawValue empty', method: 'POST', url: '/system/secrets', body: { name: 's-empty', value: '', rawValue: '' }, status: 400, code: 'KINDLING_ERR_MISSING_FIELD' },
  {
    name: 'secret: a rawValue that is not base64', method: 'POST', url: '/system/secrets', body: { name: 's-raw', rawValue: '!!! not base64 !!!' },
    status: 400, code: 'KINDLING_ERR_INVALID_SECRET_VALUE',
  },
  { name: 'secret: one that exists', method: 'POST', url: '/system/secrets', body: { name: 'existing', value: 'again' }, status: 409, code: 'KINDLING_ERR_SECRET_EXISTS' },
  { name: 'secret: an unknown namespace', method: 'POST', url: '/system/secrets', body: { name: 's-ns', value: 'v', namespace: 'kube-system' }, status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'secret: a value over the body limit', method: 'POST', url: '/system/secrets', body: { name: 's-big', value: 'x'.repeat(MiB) }, status: 413, code: 'KINDLING_ERR_PAYLOAD_TOO_LARGE' },
  { name: 'secret list: an unknown namespace', method: 'GET', url: '/system/secrets?namespace=..', status: 400, code: 'KINDLING_ERR_INVALID_NAMESPACE' },
  { name: 'secret update: one that does not exist', method: 'PUT', url: '/system/secrets', body: { name: 'nobody', value: 'v' }, status: 404, code: 'KINDLING_ERR_SECRET_NOT_FOUND' },
  { name: 'secret update: malformed JSON', method: 'PUT', url: '/system/secrets', body: '{"name":', status: 400, code: 'KINDLING_ERR_INVALID_JSON' },
  { name: 'secret delete: one that does not exist', method: 'DELETE', url: '/system/secrets', body: { name: 'nobody' }, status: 404, code: 'KINDLING_ERR_SECRET_NOT_FOUND' },
  { name: 'secret delete: a JSON array', method: 'DELETE', url: '/system/secrets', body: '[]', status: 400, code: ANY_CODE },

  // --- /system/logs ----------------------------------------------------------------------------
  { name: 'logs: no name', method: 'GET', url: '/system/logs', status: 400, code: 'KINDLING_ERR_MISSING_FIELD' },
  { name: 'logs: a name with traversal', method: 'GET', url: '/system/logs?name=../../etc/passwd', status: 400, code: ANY_CODE },
  { name: 'logs: a name with a NUL', method: 'GET', url: '/system/logs?name=cat%00', status: 400, code: 'KINDLING_ERR_INVALID_NAME' },
  { name: 'logs: a function that does not exist', method: 'GET', url: '/system/logs?name=nobody', status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'logs: the name given twice', method: 'GET', url: '/system/logs?name=cat&name=cat', status: '4xx', code: ANY_CODE },
  { name: 'logs: tail is not a number', method: 'GET', url: '/system/logs?name=cat&tail=ten', status: 422, code: 'KINDLING_ERR_INVALID_QUERY' },
  { name: 'logs: tail given twice', method: 'GET', url: '/system/logs?name=cat&tail=1&tail=2', status: 422, code: 'KINDLING_ERR_INVALID_QUERY' },
  { name: 'logs: since is not a time', method: 'GET', url: '/system/logs?name=cat&since=yesterday-ish', status: 422, code: 'KINDLING_ERR_INVALID_QUERY' },
  { name: 'logs: follow is not a boolean', method: 'GET', url: '/system/logs?name=cat&follow=perhaps', status: 422, code: 'KINDLING_ERR_INVALID_QUERY' },

  // --- /system/artifacts: mutated and hostile modules -----------------------------------------
  { name: 'upload: zero bytes', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(0), status: 400, code: 'KINDLING_ERR_NOT_WASM' },
  { name: 'upload: the magic only', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: HEADER.subarray(0, 4), status: 400, code: /^KINDLING_ERR_(NOT_WASM|WASM_INVALID)$/ },
  { name: 'upload: a header and nothing else', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: HEADER, status: 400, code: /^KINDLING_ERR_(WASM_INVALID|UNSUPPORTED_FORMAT)$/ },
  { name: 'upload: version 2', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: mutate((b) => { b[4] = 2; return b }), status: 400, code: /^KINDLING_ERR_(NOT_WASM|WASM_INVALID)$/ },
  { name: 'upload: truncated to 9 bytes', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: mutate((b) => b.subarray(0, 9)), status: 400, code: 'KINDLING_ERR_WASM_INVALID' },
  { name: 'upload: one byte short', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: mutate((b) => b.subarray(0, b.length - 1)), status: 400, code: 'KINDLING_ERR_WASM_INVALID' },
  { name: 'upload: the magic flipped', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: flip(0), status: 400, code: 'KINDLING_ERR_NOT_WASM' },
  { name: 'upload: the first section id flipped', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: flip(8), status: 400, code: 'KINDLING_ERR_WASM_INVALID' },
  { name: 'upload: the first section size flipped', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: flip(9), status: 400, code: 'KINDLING_ERR_WASM_INVALID' },
  { name: 'upload: a section that claims 4 GiB', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: wasmOf([0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x60, 0x00, 0x00]), status: 400, code: 'KINDLING_ERR_WASM_INVALID' },
  { name: 'upload: a type section that claims 2^28 types', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: wasmOf([0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x01]), status: 400, code: 'KINDLING_ERR_WASM_INVALID' },
  { name: 'upload: a LEB128 that never ends', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: wasmOf([0x01, ...Array<number>(64).fill(0x80)]), status: 400, code: 'KINDLING_ERR_WASM_INVALID' },
  { name: 'upload: a custom section named with invalid UTF-8', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: wasmOf([0x00, 0x03, 0x02, 0xff, 0xfe]), status: 400, code: /^KINDLING_ERR_(WASM_INVALID|UNSUPPORTED_FORMAT)$/ },
  { name: 'upload: random bytes after a valid header', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: Buffer.concat([HEADER, Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) & 0xff))]), status: 400, code: 'KINDLING_ERR_WASM_INVALID' },
  { name: 'upload: content type text/plain', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'text/plain' }, body: 'x', status: 415, code: 'KINDLING_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'upload: no content type', method: 'POST', url: '/system/artifacts', body: (c) => c.cat, status: 415, code: 'KINDLING_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'upload: a content type with CR/LF junk in its parameters', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/json; x="\\r\\n"' }, body: '{}', status: 415, code: 'KINDLING_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'upload: over the upload limit', method: 'POST', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: Buffer.concat([HEADER, Buffer.alloc(300 * 1024)]), status: 413, code: 'KINDLING_ERR_PAYLOAD_TOO_LARGE' },
  { name: 'upload: the wrong method', method: 'PUT', url: '/system/artifacts', headers: { 'content-type': 'application/wasm' }, body: (c) => c.cat, status: '4xx', code: ANY_CODE },

  // --- /system/async-calls/{id} ----------------------------------------------------------------
  { name: 'async state: an unknown id', method: 'GET', url: '/system/async-calls/0f5d2a7c-unknown', status: 404, code: 'KINDLING_ERR_CALL_NOT_FOUND' },
  { name: 'async state: an id with traversal', method: 'GET', url: '/system/async-calls/..%2f..%2fkindling.db', status: 404, code: 'KINDLING_ERR_CALL_NOT_FOUND' },
  { name: "async state: an id with SQL in it", method: 'GET', url: "/system/async-calls/x'%20OR%20'1'='1", status: 404, code: 'KINDLING_ERR_CALL_NOT_FOUND' },
  { name: 'async state: an id of 5,000 characters', method: 'GET', url: `/system/async-calls/${'9'.repeat(5000)}`, status: 414, code: 'KINDLING_ERR_URI_TOO_LONG' },
  { name: 'async cancel: an unknown id', method: 'DELETE', url: '/system/async-calls/nobody', status: 404, code: 'KINDLING_ERR_CALL_NOT_FOUND' },

  // --- /function/{name} (no auth: anyone may send these) ---------------------------------------
  { name: 'call: an unknown function', method: 'POST', url: '/function/nobody', status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'call: %2e%2e as the name', method: 'POST', url: '/function/%2e%2e', status: 404, code: /^KINDLING_ERR_(FUNCTION|ROUTE)_NOT_FOUND$/ },
  { name: 'call: traversal to /system', method: 'POST', url: '/function/..%2fsystem%2ffunctions', status: 404, code: ANY_CODE },
  { name: 'call: dot segments in the URL', method: 'GET', url: '/function/../system/functions', status: '4xx', code: ANY_CODE },
  { name: 'call: a NUL in the name', method: 'POST', url: '/function/cat%00', status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'call: an unknown namespace', method: 'POST', url: '/function/cat.kube-system', status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'call: a name of 5,000 characters', method: 'POST', url: `/function/${'a'.repeat(5000)}`, status: 414, code: 'KINDLING_ERR_URI_TOO_LONG' },
  {
    name: 'call: a percent escape cut short in the name', method: 'POST', url: '/function/cat%E0%A4%A', status: 400, code: 'KINDLING_ERR_BAD_REQUEST',
  },
  { name: 'call: the TRACE method', method: 'TRACE', url: '/function/cat', status: '4xx', code: ANY_CODE },
  { name: 'call: a body over the limit', method: 'POST', url: '/function/cat', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(300 * 1024, 0x61), status: 413, code: 'KINDLING_ERR_PAYLOAD_TOO_LARGE' },
  { name: 'call: no name at all', method: 'POST', url: '/function/', status: 404, code: ANY_CODE },

  // --- /async-function/{name} ------------------------------------------------------------------
  { name: 'async: an unknown function', method: 'POST', url: '/async-function/nobody', status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'async: a NUL in the name', method: 'POST', url: '/async-function/cat%00', status: 404, code: 'KINDLING_ERR_FUNCTION_NOT_FOUND' },
  { name: 'async: the GET method', method: 'GET', url: '/async-function/cat', status: '4xx', code: ANY_CODE },
  { name: 'async: a callback URL that is not a URL', method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': 'not a url' }, status: 400, code: 'KINDLING_ERR_INVALID_CALLBACK_URL' },
  { name: 'async: a file: callback URL', method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': 'file:///etc/passwd' }, status: 400, code: 'KINDLING_ERR_INVALID_CALLBACK_URL' },
  { name: 'async: a gopher: callback URL', method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': 'gopher://127.0.0.1:25/' }, status: 400, code: 'KINDLING_ERR_INVALID_CALLBACK_URL' },
  {
    name: 'async: a callback to cloud metadata (169.254.169.254) is denied', method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': 'http://169.254.169.254/latest/meta-data/' },
    status: 400, code: 'KINDLING_ERR_CALLBACK_DENIED',
  },
  {
    name: 'async: a loopback callback (where the gateway itself listens) is denied by default', method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': 'http://127.0.0.1:9/system/functions' },
    status: 400, code: 'KINDLING_ERR_CALLBACK_DENIED',
  },
  {
    name: 'async: a callback to a private address is denied', method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': 'http://10.0.0.1/' },
    status: 400, code: 'KINDLING_ERR_CALLBACK_DENIED',
  },
  {
    name: 'async: credentials in the callback URL are refused', method: 'POST', url: '/async-function/cat', headers: { 'x-callback-url': 'http://user:pass@example.com/cb' },
    status: 400, code: 'KINDLING_ERR_INVALID_CALLBACK_URL',
  },
  { name: 'async: a body over the limit', method: 'POST', url: '/async-function/cat', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(300 * 1024), status: 413, code: 'KINDLING_ERR_PAYLOAD_TOO_LARGE' },

  // --- /healthz, /metrics and routes that do not exist -----------------------------------------
  { name: 'healthz: the wrong method', method: 'POST', url: '/healthz', body: 'x', status: '4xx', code: ANY_CODE },
  { name: 'metrics: the wrong method', method: 'DELETE', url: '/metrics', status: '4xx', code: ANY_CODE },
  { name: 'an unknown route', method: 'GET', url: '/admin', status: 404, code: 'KINDLING_ERR_ROUTE_NOT_FOUND' },
  { name: 'traversal from the root', method: 'GET', url: '/%2e%2e/%2e%2e/etc/passwd', status: 404, code: 'KINDLING_ERR_ROUTE_NOT_FOUND' },
  { name: '/system itself', method: 'GET', url: '/system', status: 404, code: /^KINDLING_ERR_(ROUTE_NOT_FOUND|UNAUTHORIZED)$/ },
  { name: 'a route below /system/functions', method: 'GET', url: '/system/functions/cat', status: 404, code: 'KINDLING_ERR_ROUTE_NOT_FOUND' },
  { name: 'a URL of 16 KiB', method: 'GET', url: `/${'x/'.repeat(8192)}`, status: 404, code: 'KINDLING_ERR_ROUTE_NOT_FOUND' },
  { name: 'junk in the query of an unknown route', method: 'GET', url: '/nope?%00=%ff&&&==&a[b][c]=1', status: 404, code: 'KINDLING_ERR_ROUTE_NOT_FOUND' },
]

// Rows sent over a real socket: what the HTTP parser refuses before fastify sees it (so no code).
interface SocketRow {
  name: string
  raw: string
  status: number
}
const SOCKET_ROWS: SocketRow[] = [
  { name: 'a CR inside a header value', raw: 'POST /function/cat HTTP/1.1\r\nHost: x\r\nX-Evil: a\rb\r\nContent-Length: 0\r\n\r\n', status: 400 },
  { name: 'a header split by a bare LF carrying a second request', raw: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /system/info HTTP/1.1\r\n\r\n', status: 400 },
  { name: 'a 64 KiB header', raw: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(64 * 1024)}\r\n\r\n`, status: 431 },
  { name: 'Content-Length and Transfer-Encoding together (smuggling)', raw: 'POST /function/cat HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400 },
  { name: 'a negative Content-Length', raw: 'POST /function/cat HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', status: 400 },
  { name: 'a Content-Length of 2^64', raw: 'POST /function/cat HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n', status: 400 },
  { name: 'a request line that is not HTTP', raw: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', status: 400 },
]

function rawRequest(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname)
    let got = ''
    sock.setTimeout(10_000, () => sock.destroy(new Error('no answer in 10 s')))
    sock.on('data', (d) => {
      got += d.toString('latin1')
      if (/\r\n\r\n/.test(got)) sock.end()
    })
    sock.on('error', (e) => (got ? resolve(got) : reject(e)))
    sock.on('close', () => resolve(got))
    sock.write(raw, 'latin1')
  })
}

describe('bad-input catalogue: every route, hostile input, a 4xx with a code, and the gateway stays up', () => {
  let k: TestKindling
  let ctx: Ctx
  let validAuth: string
  before(async () => {
    k = await startKindling({ maxBodyBytes: 256 * 1024, maxUploadBytes: 256 * 1024 })
    validAuth = k.auth.authorization!
    const cat = fs.readFileSync(exampleModule('cat'))
    await k.deploy('cat', exampleModule('cat'), { labels: { 'com.kindling.isolation': 'inline' } })
    const hugeMemoryImage = await k.upload(await wat(wasiCommand('', '').replace('(memory (export "memory") 1)', '(memory (export "memory") 60000)')))
    ctx = { image: await k.upload(cat), hugeMemoryImage, cat }
    const s = await k.app.inject({ method: 'POST', url: '/system/secrets', headers: k.auth, payload: { name: 'existing', value: 'v' } })
    assert.equal(s.statusCode, 201)
  })
  after(() => k.cleanup())

  it('has at least 60 cases', () => assert.ok(ROWS.length + SOCKET_ROWS.length + 1 >= 60, `${ROWS.length + SOCKET_ROWS.length + 1} cases`))

  for (const row of ROWS) {
    it(`${row.method} ${row.url.slice(0, 60)}: ${row.name}`, { todo: row.todo, skip: row.skip }, async () => {
      const headers: Record<string, string> = { ...row.headers }
      if (headers.authorization === 'LOWER') headers.authorization = validAuth.replace(/^Basic/, 'basic')
      if ((row.auth ?? row.url.startsWith('/system')) && headers.authorization === undefined) headers.authorization = validAuth
      const raw = typeof row.body === 'function' ? row.body(ctx) : row.body
      let payload: string | Buffer | undefined
      if (raw === undefined) payload = undefined
      else if (typeof raw === 'string' || Buffer.isBuffer(raw)) payload = raw
      else {
        payload = JSON.stringify(raw)
        headers['content-type'] ??= 'application/json'
      }
      if (payload !== undefined && typeof payload === 'string' && headers['content-type'] === undefined && row.url.startsWith('/system')) headers['content-type'] = 'application/json'
      const res = await k.app.inject({ method: row.method as 'GET', url: row.url, headers, payload })
      const seen = `${res.statusCode} ${res.body.slice(0, 300)}`
      if (row.status === '4xx') assert.ok(res.statusCode >= 400 && res.statusCode < 500, seen)
      else assert.equal(res.statusCode, row.status, seen)
      if (row.code !== null) {
        const body = JSON.parse(res.body) as { code?: string; message?: string }
        if (typeof row.code === 'string') assert.equal(body.code, row.code, seen)
        else assert.match(body.code ?? '', row.code, seen)
        assert.equal(res.headers['x-kindling-error'], body.code)
        assert.ok((body.message ?? '').length > 10, seen)
      }
      const health = await k.app.inject({ method: 'GET', url: '/healthz' })
      assert.equal(health.statusCode, 200)
    })
  }

  it('POST /function/{name}: a caller X-Call-Id that is not an id is replaced, never echoed', async () => {
    for (const bad of ['a'.repeat(300), '../../etc', 'x y', '-leading-dash']) {
      const r = await k.app.inject({ method: 'POST', url: '/function/cat', headers: { 'x-call-id': bad }, payload: 'hi' })
      assert.equal(r.statusCode, 200, r.body)
      assert.notEqual(r.headers['x-call-id'], bad)
      assert.match(String(r.headers['x-call-id']), /^[0-9a-f-]{36}$/)
    }
    const kept = await k.app.inject({ method: 'POST', url: '/function/cat', headers: { 'x-call-id': 'trace-42' }, payload: 'hi' })
    assert.equal(kept.headers['x-call-id'], 'trace-42')
  })

  it('POST /async-function/{name}: async: an X-Call-Id seen before is replaced by a gateway id, never dropped', async () => {
    const first = await k.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-call-id': 'catalogue-dup-1' }, payload: 'one' })
    assert.equal(first.statusCode, 202)
    const again = await k.app.inject({ method: 'POST', url: '/async-function/cat', headers: { 'x-call-id': 'catalogue-dup-1' }, payload: 'two' })
    assert.equal(again.statusCode, 202, again.body)
    assert.notEqual(again.headers['x-call-id'], first.headers['x-call-id'], 'a second call may not share the queue key of the first')
    // the caller's id survives as the correlation id of both calls, and both are queued
    for (const r of [first, again]) {
      assert.equal(r.headers['x-correlation-id'], 'catalogue-dup-1')
      const state = await k.app.inject({ method: 'GET', url: `/system/async-calls/${String(r.headers['x-call-id'])}`, headers: k.auth })
      assert.equal(state.statusCode, 200, state.body)
    }
    assert.equal((await k.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  })

  describe('over a real socket (what the HTTP parser refuses)', () => {
    let url: string
    before(async () => {
      url = await k.listen()
    })
    for (const row of SOCKET_ROWS) {
      it(row.name, async () => {
        const answer = await rawRequest(url, row.raw)
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1])
        assert.equal(status, row.status, answer.slice(0, 200))
        // the parser's refusals have the gateway's error shape too: a code in the header and the body
        assert.match(answer, /\r\nx-kindling-error: KINDLING_ERR_[A-Z_]+\r\n/i, answer.slice(0, 300))
        assert.match(answer, /"code":"KINDLING_ERR_[A-Z_]+"/, answer.slice(0, 300))
        const health = await fetch(`${url}/healthz`)
        assert.equal(health.status, 200)
      })
    }
  })

  it('deployed nothing and kept the function it had', async () => {
    const list = (await k.app.inject({ method: 'GET', url: '/system/functions', headers: k.auth })).json() as { name: string }[]
    assert.deepEqual(list.map((f) => f.name), ['cat'])
    const r = await k.app.inject({ method: 'POST', url: '/function/cat', payload: 'still here' })
    assert.equal(r.body, 'still here')
  })
})
