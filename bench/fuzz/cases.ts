// fast-check arbitraries for the gateway fuzz: uploads (mutated example modules and random bytes),
// deployments (random and mutated JSON, removals, scaling) and calls (random method, path, headers
// and body to /function/* and /async-function/*). Every case is a plain object, so that a shrunk
// counterexample prints and replays as it is.
import http from 'node:http'
import fc from 'fast-check'

export interface UploadCase {
  kind: 'upload'
  contentType: string
  bytes: Uint8Array
  /** deploy what uploaded, on the wasm tier, and call it once */
  thenDeploy: boolean
}
export interface DeployCase {
  kind: 'deploy'
  method: 'POST' | 'PUT' | 'DELETE'
  url: string
  contentType: string | undefined
  body: string
}
export interface InvokeCase {
  kind: 'invoke'
  method: string
  url: string
  headers: Record<string, string>
  body: Uint8Array
}
export type FuzzCase = UploadCase | DeployCase | InvokeCase

export interface CaseInputs {
  /** example modules to mutate (functions/dist/*.wasm) */
  modules: Uint8Array[]
  /** images uploaded at start-up, so that some deployments are valid */
  images: string[]
  /** functions deployed at start-up and the pool of names deployments may take */
  functionNames: string[]
  deployNames: string[]
  /** loopback callback sink: the only valid X-Callback-Url the fuzz sends */
  callbackUrl: string
  /** also generate inputs for issue-18 bugs known and fixed elsewhere (huge replica counts) */
  knownIssues: boolean
}

const junkString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', '..', '../..', '%2e%2e', '%00', '\u0000', 'a\r\nb: c', ' ', '.', '-', 'x'.repeat(70), '\u202e', '\u{1F525}', 'null', 'true', '1e999'),
)

// --- uploads --------------------------------------------------------------------------------

type Mutation = { op: 'flip' | 'set' | 'truncate' | 'insert' | 'delete' | 'leb'; at: number; value: number; len: number }
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('flip', 'set', 'truncate', 'insert', 'delete', 'leb'),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
  len: fc.integer({ min: 1, max: 16 }),
})

export function applyMutations(src: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(src)
  for (const m of ms) {
    if (b.length === 0) break
    const at = m.at % b.length
    switch (m.op) {
      case 'flip':
        b[at] = b[at]! ^ (1 << (m.value % 8))
        break
      case 'set':
        b[at] = m.value
        break
      case 'truncate':
        b = b.subarray(0, at)
        break
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.len, m.value), b.subarray(at)])
        break
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)])
        break
      case 'leb':
        // a LEB128 that claims a huge size, where sizes and counts live
        b = Buffer.concat([b.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), b.subarray(Math.min(b.length, at + 1))])
        break
    }
  }
  return new Uint8Array(b)
}

const WASM_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]

export function uploadCase(inp: CaseInputs): fc.Arbitrary<UploadCase> {
  const mutated = fc.tuple(fc.integer({ min: 0, max: inp.modules.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([i, ms]) => applyMutations(inp.modules[i]!, ms))
  const random = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }),
    fc.uint8Array({ maxLength: 2048 }).map((r) => new Uint8Array([...WASM_HEADER, ...r])),
  )
  return fc.record({
    kind: fc.constant('upload' as const),
    contentType: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('application/wasm', 'application/octet-stream') }, { weight: 1, arbitrary: junkString }),
    bytes: fc.oneof({ weight: 3, arbitrary: mutated }, { weight: 1, arbitrary: random }),
    thenDeploy: fc.boolean(),
  })
}

// --- deployments ----------------------------------------------------------------------------

const absent = fc.constant(undefined)
function field<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: absent }, { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) })
}

export function deploymentObject(inp: CaseInputs): fc.Arbitrary<Record<string, unknown>> {
  const tier = fc.constantFrom('inline', 'wasm', 'wasm', 'thread', 'process', 'container', 'hypervisor', '')
  const small = fc.constantFrom('0', '1', '2', '3', '-1', 'x', '', ' 1 ', '1.5')
  const labels = fc.record(
    {
      'com.kindling.isolation': tier,
      'com.kindling.app': fc.oneof(fc.constantFrom('fuzz', 'fuzz2'), junkString),
      'com.kindling.state': fc.constantFrom('fresh', 'reuse', 'other'),
      'com.kindling.reset': fc.constantFrom('snapshot', 'reinstantiate', 'x'),
      'com.kindling.timeout': fc.constantFrom('1s', '2s', '500ms', 'forever', '-1s', '0'),
      'com.kindling.prewarm': fc.constantFrom('true', 'false', 'maybe'),
      'com.openfaas.scale.min': inp.knownIssues ? fc.oneof(small, fc.constantFrom('1000000', '99999999999999999999')) : small,
      'com.openfaas.scale.max': fc.constantFrom('1', '2', '3', '0', 'x'),
      'com.openfaas.scale.zero': fc.constantFrom('true', 'false', 'x'),
      'com.openfaas.scale.zero-duration': fc.constantFrom('1s', '5m', 'x'),
      'com.openfaas.scale.type': fc.constantFrom('rps', 'capacity', 'cpu', 'queue', 'x'),
      'com.openfaas.scale.factor': fc.constantFrom('0', '20', '100', '101'),
      'com.openfaas.retry.attempts': fc.constantFrom('0', '1', 'x'),
    },
    { requiredKeys: [] },
  )
  const quantity = fc.oneof(fc.constantFrom('64Mi', '128Mi', '1Gi', '32Ki', '-1Mi', '1e30Ei', '12 bananas', '100m', '0.5', ''), junkString)
  return fc.record(
    {
      service: field(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...inp.deployNames) }, { weight: 1, arbitrary: junkString })),
      image: field(fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...inp.images) },
        { weight: 1, arbitrary: fc.constantFrom('wasm:sha256:' + '0'.repeat(64), 'wasm:whatever', 'functions/alpine:latest', '../../etc/passwd', 'nginx:latest') },
        { weight: 1, arbitrary: junkString },
      )),
      namespace: field(fc.constantFrom('openfaas-fn', 'kube-system', '', '..', 'OpenFaaS-FN')),
      labels: field(labels),
      annotations: field(fc.dictionary(junkString, junkString, { maxKeys: 3 })),
      envVars: field(fc.dictionary(fc.oneof(fc.constantFrom('exec_timeout', 'Http_Method', 'PATH', 'LD_PRELOAD'), junkString), fc.oneof(fc.constantFrom('1s', '2s', '-1', 'x'), junkString), { maxKeys: 3 })),
      secrets: field(fc.array(fc.oneof(fc.constantFrom('fuzz-secret', 'missing'), junkString), { maxLength: 2 })),
      limits: field(fc.record({ memory: quantity, cpu: quantity }, { requiredKeys: [] })),
      requests: field(fc.record({ memory: quantity, cpu: quantity }, { requiredKeys: [] })),
      envProcess: field(junkString),
      readOnlyRootFilesystem: field(fc.boolean()),
      constraints: field(fc.array(junkString, { maxLength: 2 })),
    },
    { requiredKeys: [] },
  )
}

/** A JSON text with a few characters changed, inserted or removed. */
function mutatedJson(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(text, fc.array(fc.tuple(fc.nat(), fc.constantFrom('"', '{', '}', '[', ']', ',', ':', '\\', '\u0000', 'e9', '-', '\n', ''), fc.boolean()), { minLength: 1, maxLength: 3 }))
    .map(([s, edits]) => {
      let out = s
      for (const [at, ch, replace] of edits) {
        const i = out.length === 0 ? 0 : at % out.length
        out = out.slice(0, i) + ch + out.slice(replace ? i + 1 : i)
      }
      return out
    })
}

export function deployCase(inp: CaseInputs): fc.Arbitrary<DeployCase> {
  const dep = deploymentObject(inp).map((o) => JSON.stringify(o))
  const replicas = inp.knownIssues
    ? fc.oneof(fc.constantFrom(0, 1, 2, -1, 1.5, '2', null, true), fc.constantFrom(1_000_000, Number.MAX_SAFE_INTEGER))
    : fc.constantFrom(0, 1, 2, -1, 1.5, '2', null, true)
  const name = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...inp.deployNames, ...inp.functionNames) }, { weight: 1, arbitrary: junkString.map(encodeURIComponent) })
  const ct = fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'multipart/form-data')
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('deploy' as const), method: fc.constantFrom('POST' as const, 'PUT' as const), url: fc.constant('/system/functions'), contentType: ct, body: dep }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('deploy' as const), method: fc.constantFrom('POST' as const, 'PUT' as const), url: fc.constant('/system/functions'), contentType: ct, body: mutatedJson(dep) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deploy' as const), method: fc.constantFrom('POST' as const, 'PUT' as const), url: fc.constant('/system/functions'), contentType: ct, body: fc.json({ maxDepth: 4 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('deploy' as const),
        method: fc.constant('DELETE' as const),
        url: fc.constant('/system/functions'),
        contentType: fc.constant('application/json'),
        body: fc.oneof(fc.constantFrom(...inp.deployNames).map((n) => JSON.stringify({ functionName: n })), fc.anything({ maxDepth: 2 }).map((v) => JSON.stringify({ functionName: v }) ?? '')),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('deploy' as const),
        method: fc.constant('POST' as const),
        url: name.map((n) => `/system/scale-function/${n}`),
        contentType: fc.constant('application/json'),
        body: fc.oneof(replicas.map((r) => JSON.stringify({ replicas: r })), mutatedJson(replicas.map((r) => JSON.stringify({ replicas: r })))),
      }),
    },
  )
}

// --- calls ----------------------------------------------------------------------------------

const FUNCTION_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']
const headerName = fc.oneof(
  fc.constantFrom('content-type', 'method', 'path', 'query', 'x-call-id', 'x-forwarded-for', 'authorization', 'cookie', 'accept', 'x-callback-url', 'content-encoding', 'expect', 'x-kindling-error', 'host', 'transfer-encoding', 'connection'),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/),
)

export function invokeCase(inp: CaseInputs): fc.Arbitrary<InvokeCase> {
  const name = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...inp.functionNames, ...inp.deployNames) }, { weight: 1, arbitrary: junkString.map(encodeURIComponent) })
  const sub = fc.oneof(fc.constant(''), fc.webPath(), fc.constantFrom('/../../system/functions', '/%2e%2e/%2e%2e', '/a//b', '/status/500', '/' + 'x'.repeat(4000)))
  const query = fc.oneof(fc.constant(''), fc.webQueryParameters().map((q) => `?${q}`), fc.constantFrom('?%zz', '?a=1&a=2&a[b]=c', '?' + '&'.repeat(100)))
  // only what Node's HTTP parser lets through a socket: tab, printable ASCII and obs-text
  // (fastify inject would pass anything, and the answers would say nothing about a real gateway)
  const wireChar = fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) }, { weight: 1, arbitrary: fc.constantFrom(0x09, 0x80, 0xa0, 0xe9, 0xff) })
  const wire = fc.array(wireChar, { maxLength: 60 }).map((cs) => String.fromCharCode(...cs).trim())
  const value = fc.oneof({ weight: 6, arbitrary: wire }, { weight: 1, arbitrary: fc.constantFrom('x'.repeat(8000), '\u00ff\u00fe', '\t') })
  const callbackValue = fc.oneof(fc.constant(inp.callbackUrl), fc.constantFrom('not a url', 'file:///etc/passwd', 'ftp://127.0.0.1/', 'http://', 'http://[::1'))
  const headers = fc.tuple(fc.dictionary(headerName, value, { maxKeys: 6 }), fc.option(callbackValue)).map(([h, cb]) => {
    // the only callback URL that may be sent is the loopback sink: the fuzz must not reach anything else
    delete h['x-callback-url']
    if (cb !== null) h['x-callback-url'] = cb
    return h
  })
  return fc.record({
    kind: fc.constant('invoke' as const),
    method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...FUNCTION_METHODS) }, { weight: 1, arbitrary: fc.constantFrom(...http.METHODS) }),
    url: fc.tuple(fc.constantFrom('/function/', '/function/', '/async-function/'), name, sub, query).map(([a, b, c, d]) => a + b + c + d),
    headers,
    body: fc.oneof(fc.uint8Array({ maxLength: 1024 }), fc.string({ maxLength: 200 }).map((s) => new Uint8Array(Buffer.from(s)))),
  })
}

export function anyCase(inp: CaseInputs): fc.Arbitrary<FuzzCase> {
  return fc.oneof(uploadCase(inp), deployCase(inp), invokeCase(inp))
}
