import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { KindlingError } from '../../runtime/errors.js'
import { parseDurationMs, parseMemoryQuantity } from '../../runtime/quantities.js'
import { functionStatus, parseDeployment, settingsOf, type SpecDefaults } from '../../runtime/spec.js'

const d: SpecDefaults = { namespaces: ['openfaas-fn', 'staging'], defaultNamespace: 'openfaas-fn', execTimeoutMs: 30_000, memoryMiB: 128, maxReplicas: 20, queueDepth: 100 }
const img = `wasm:sha256:${'a'.repeat(64)}`
const code = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    return e instanceof KindlingError ? e.code : String(e)
  }
  return 'no error'
}

describe('deployment validation', () => {
  it('requires service and image and valid names', () => {
    assert.equal(code(() => parseDeployment({ image: img }, d)), 'KINDLING_ERR_MISSING_FIELD')
    assert.equal(code(() => parseDeployment({ service: 'x' }, d)), 'KINDLING_ERR_MISSING_FIELD')
    for (const bad of ['../x', 'a/b', 'a'.repeat(64), '-x', 'x.y', ' x']) assert.equal(code(() => parseDeployment({ service: bad, image: img }, d)), 'KINDLING_ERR_INVALID_NAME', bad)
    assert.equal(code(() => parseDeployment({ service: 'x', image: img, namespace: 'nope' }, d)), 'KINDLING_ERR_INVALID_NAMESPACE')
    assert.equal(code(() => parseDeployment([1, 2], d)), 'KINDLING_ERR_INVALID_FIELD')
  })

  it('refuses bad labels, limits and tiers at deploy', () => {
    const dep = (labels: Record<string, string>, extra = {}) => () => parseDeployment({ service: 'x', image: img, labels, ...extra }, d)
    assert.equal(code(dep({ 'com.kindling.isolation': 'vm' })), 'KINDLING_ERR_UNKNOWN_TIER')
    assert.equal(code(dep({ 'com.openfaas.scale.min': 'two' })), 'KINDLING_ERR_INVALID_LABEL')
    assert.equal(code(dep({ 'com.openfaas.scale.min': '5', 'com.openfaas.scale.max': '2' })), 'KINDLING_ERR_INVALID_LABEL')
    assert.equal(code(dep({ 'com.kindling.state': 'sometimes' })), 'KINDLING_ERR_INVALID_LABEL')
    assert.equal(code(dep({}, { limits: { memory: 'lots' } })), 'KINDLING_ERR_INVALID_LIMIT')
    assert.equal(code(dep({}, { envVars: { exec_timeout: 'soon' } })), 'KINDLING_ERR_INVALID_LABEL')
    assert.equal(code(dep({}, { envVars: { a: 1 } })), 'KINDLING_ERR_INVALID_FIELD')
  })

  it('derives the tier, timeouts, memory and scaling from labels and env', () => {
    const dep = parseDeployment({
      service: 'x', image: img, envVars: { exec_timeout: '1m30s' }, limits: { memory: '64Mi', cpu: '500m' },
      labels: { 'com.kindling.isolation': 'inline', 'com.openfaas.scale.min': '2', 'com.openfaas.scale.zero': 'true', 'com.openfaas.scale.zero-duration': '5m' },
    }, d)
    const s = settingsOf(dep, d)
    assert.equal(s.tier, 'inline')
    assert.equal(s.timeoutMs, 90_000)
    assert.equal(s.memoryBytes, 64 * 1024 * 1024)
    assert.equal(s.cpuCores, 0.5)
    assert.deepEqual([s.scale.min, s.scale.max, s.scale.zero, s.scale.zeroDurationMs], [2, 20, true, 300_000])
    assert.equal(settingsOf(parseDeployment({ service: 'y', image: 'functions/alpine:latest' }, d), d).tier, 'container')
    assert.equal(settingsOf(parseDeployment({ service: 'y', image: img, labels: { 'com.kindling.timeout': '2s' }, envVars: { exec_timeout: '9s' } }, d), d).timeoutMs, 2000)
  })
})

describe('FunctionStatus field rules (openfaas-api.md 1.4)', () => {
  const live = { replicas: 2, availableReplicas: 1, invocationCount: 3, createdAt: '2026-01-01T00:00:00.000Z', extra: { 'com.kindling.tier': 'wasm' } }

  it('always has labels and annotations objects, labels carry faas_function, empty fields are omitted', () => {
    const s = functionStatus(parseDeployment({ service: 'x', image: 'functions/alpine:latest', envVars: {}, requests: {}, labels: null }, d), live)
    assert.deepEqual(s.labels, { faas_function: 'x' })
    assert.deepEqual(s.annotations, { 'com.kindling.tier': 'wasm' })
    for (const absent of ['envVars', 'requests', 'limits', 'envProcess', 'secrets', 'constraints']) assert.ok(!(absent in s), `${absent} is absent`)
    assert.equal(s.namespace, 'openfaas-fn')
    assert.equal(s.replicas, 2)
  })

  it('echoes image, envProcess and limits verbatim', () => {
    const s = functionStatus(parseDeployment({ service: 'x', image: 'docker.io/functions/alpine:latest', envProcess: 'sha512sum', limits: { memory: '5Mi', cpu: '100m' }, readOnlyRootFilesystem: true, labels: { a: 'b' } }, d), live)
    assert.equal(s.image, 'docker.io/functions/alpine:latest')
    assert.equal(s.envProcess, 'sha512sum')
    assert.deepEqual(s.limits, { memory: '5Mi', cpu: '100m' })
    assert.equal(s.readOnlyRootFilesystem, true)
    assert.deepEqual(s.labels, { a: 'b', faas_function: 'x' })
  })
})

describe('quantities and durations', () => {
  it('parses Kubernetes memory quantities and Go durations', () => {
    assert.equal(parseMemoryQuantity('128Mi'), 128 * 2 ** 20)
    assert.equal(parseMemoryQuantity('128M'), 128e6)
    assert.equal(parseMemoryQuantity('1Gi'), 2 ** 30)
    assert.equal(parseMemoryQuantity('1024'), 1024)
    assert.equal(parseMemoryQuantity('12 parsecs'), undefined)
    assert.equal(parseDurationMs('1m30s'), 90_000)
    assert.equal(parseDurationMs('500ms'), 500)
    assert.equal(parseDurationMs('20'), 20_000)
    assert.equal(parseDurationMs('soon'), undefined)
  })
})

// outbound HTTP (issue 13 item 1)
describe('com.kindling.outbound', () => {
  const dep = (value: string) => ({ service: 'x', image: img, annotations: { 'com.kindling.outbound': value } })
  it('denies by default and normalises the patterns it grants', () => {
    assert.deepEqual(settingsOf(parseDeployment({ service: 'x', image: img }, d), d).outbound, [])
    const s = settingsOf(parseDeployment(dep('https://api.example.com, http://127.0.0.1:8099,https://*.example.com,http://[::1]:80/,https://*:*'), d), d)
    assert.deepEqual(s.outbound, ['https://api.example.com:443', 'http://127.0.0.1:8099', 'https://*.example.com:443', 'http://[::1]:80', 'https://*:*'])
  })
  it('refuses a bad pattern at deploy with KINDLING_ERR_INVALID_OUTBOUND (400)', () => {
    for (const bad of ['api.example.com', 'ftp://example.com', 'https://example.com/path', 'https://exa mple.com', 'http://example.com:0', 'http://example.com:70000', 'https://a.*.com', 'http://[zz]:80']) {
      assert.equal(code(() => parseDeployment(dep(bad), d)), 'KINDLING_ERR_INVALID_OUTBOUND', bad)
    }
  })
})
