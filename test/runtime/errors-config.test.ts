import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError, CONFIG_TABLE, loadConfig } from '../../runtime/config.js'
import { ERRORS, KindlingError } from '../../runtime/errors.js'

describe('error table', () => {
  it('gives every code a prefix, an HTTP error status and a hint that says what to do', () => {
    for (const [code, e] of Object.entries(ERRORS)) {
      assert.match(code, /^KINDLING_ERR_[A-Z_]+$/)
      assert.ok(e.status >= 400 && e.status <= 599, code)
      assert.ok(e.hint.length > 20 && /[.!]$/.test(e.hint), `${code} has a full-sentence hint`)
    }
    const e = new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', 'function x is not deployed')
    assert.equal(e.status, 404)
    assert.deepEqual(Object.keys(e.toJSON()), ['code', 'status', 'message'])
    assert.match(e.message, /^function x is not deployed\. Deploy the function first/)
  })
})

describe('config', () => {
  it('has a unit in every numeric key name and an environment variable per key', () => {
    for (const [key, e] of Object.entries(CONFIG_TABLE)) {
      // gateway limits (issue 18): counts
      if (['maxConnections', 'maxReplicasCap', 'sandboxStartConcurrency'].includes(key)) continue
      // tier defaults (issue 11): counts
      if (['threadSpareWorkers', 'processSpareProcesses', 'containerPidsLimit'].includes(key)) continue
      if (e.kind === 'int' && key !== 'port' && key !== 'spareAppHosts' && key !== 'maxReplicas' && key !== 'queueDepth' && key !== 'interruptFuel' && !['asyncConcurrency', 'asyncMaxQueued', 'asyncRetryAttempts', 'asyncCallbackAttempts', 'asyncCallbackConcurrency', 'asyncCallbackPerHost'].includes(key)) {
        assert.match(key, /(Ms|Bytes|MiB)$/, `${key} names its unit`)
      }
      assert.match(e.env, /^(KINDLING_|OPENFAAS_URL$)/)
    }
  })

  it('reads KINDLING_* once, with defaults, and refuses bad values with the variable name', () => {
    const c = loadConfig({ KINDLING_PORT: '9090', KINDLING_BASIC_AUTH: 'false', KINDLING_NAMESPACES: 'a, b' })
    assert.equal(c.port, 9090)
    assert.equal(c.basicAuth, false)
    assert.deepEqual(c.extraNamespaces, ['a', 'b'])
    assert.equal(c.host, '127.0.0.1')
    assert.equal(c.dataDir, './.kindling')
    assert.throws(() => loadConfig({ KINDLING_PORT: 'eighty' }), (e: Error) => e instanceof ConfigError && /KINDLING_PORT/.test(e.message))
    assert.throws(() => loadConfig({ KINDLING_PORT: '70000' }), /at most 65535/)
    assert.throws(() => loadConfig({ KINDLING_BASIC_AUTH: 'maybe' }), /true or false/)
    assert.throws(() => loadConfig({ KINDLING_LOG_LEVEL: 'loud' }), /KINDLING_LOG_LEVEL/)
  })
})
