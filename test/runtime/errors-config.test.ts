import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError, CONFIG_TABLE, loadConfig } from '../../runtime/config.js'
import fs from 'node:fs'
import { ERRORS, failedResult, isErrorCode, KindlingError, MESSAGE_STDERR_CHARS } from '../../runtime/errors.js'
import { END, README, withErrorsTable, WRITE_COMMAND } from '../../scripts/errors-table.js'

describe('error table', () => {
  it('gives every code a prefix, an HTTP error status and a hint that says what to do', () => {
    for (const [code, e] of Object.entries(ERRORS)) {
      assert.match(code, /^KINDLING_ERR_[A-Z_]+$/)
      assert.ok(Number.isInteger(e.status) && e.status >= 400 && e.status <= 599, `${code} has a 4xx or 5xx status`)
      assert.ok(e.hint.trim().length > 20 && e.hint.endsWith('.'), `${code} has a full-sentence hint ending with a period`)
    }
    const e = new KindlingError('KINDLING_ERR_FUNCTION_NOT_FOUND', 'function x is not deployed')
    assert.equal(e.status, 404)
    assert.deepEqual(Object.keys(e.toJSON()), ['code', 'status', 'message'])
    assert.match(e.message, /^function x is not deployed\. Deploy the function first/)
  })

  it('defines each code once (an object literal would keep the last of two silently at run time)', () => {
    const source = fs.readFileSync(new URL('../../isolation/errors.ts', import.meta.url), 'utf8')
    const defined = [...source.matchAll(/^\s*(KINDLING_ERR_[A-Z_]+): \{ status:/gm)].map((m) => m[1]!)
    assert.equal(new Set(defined).size, defined.length, `defined twice: ${defined.filter((c, i) => defined.indexOf(c) !== i).join(', ')}`)
    assert.deepEqual(defined, Object.keys(ERRORS))
    assert.ok(isErrorCode('KINDLING_ERR_TIMEOUT'))
    assert.ok(!isErrorCode('toString') && !isErrorCode('KINDLING_ERR_NOPE') && !isErrorCode(undefined))
  })

  it('is listed in README.md with the same statuses, and README is up to date', () => {
    const readme = fs.readFileSync(README, 'utf8')
    const block = readme.slice(0, readme.indexOf(END))
    const listed = new Map([...block.matchAll(/^\| `(KINDLING_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]))
    for (const [code, e] of Object.entries(ERRORS)) assert.equal(listed.get(code), e.status, `README lists ${code} with status ${e.status}; run: ${WRITE_COMMAND}`)
    for (const code of listed.keys()) assert.ok(code in ERRORS, `README lists ${code}, which the table does not have; run: ${WRITE_COMMAND}`)
    assert.ok(withErrorsTable(readme) === readme, `README.md's error table is out of date; run: ${WRITE_COMMAND}`)
  })

  it('makes a failed call from a code: status from the table, the JSON body, the end of stderr in the message', () => {
    const r = failedResult('KINDLING_ERR_FUNCTION_EXIT', 'the function exited with status 3', { stderr: 'boom\n' })
    assert.equal(r.status, 500)
    assert.equal(r.errorCode, 'KINDLING_ERR_FUNCTION_EXIT')
    assert.equal(r.stderr, 'boom\n')
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8')
    assert.deepEqual(JSON.parse(r.body.toString()), {
      code: 'KINDLING_ERR_FUNCTION_EXIT', status: 500,
      message: `the function exited with status 3. ${ERRORS.KINDLING_ERR_FUNCTION_EXIT.hint}\nboom\n`,
    })
    assert.equal(failedResult('KINDLING_ERR_TIMEOUT', 'too slow').status, 504)
    const long = `${'x'.repeat(10_000)}the end`
    const cut = (JSON.parse(failedResult('KINDLING_ERR_FUNCTION_EXIT', 'exit 1', { stderr: long }).body.toString()) as { message: string }).message
    assert.ok(cut.endsWith('the end') && cut.includes(`[${long.length - MESSAGE_STDERR_CHARS} characters of stderr cut]`))
    assert.ok(cut.length < MESSAGE_STDERR_CHARS + 300)
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
