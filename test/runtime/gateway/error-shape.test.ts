// One error model: every error kindling makes reaches the caller as JSON { code, status, message }
// with the code in X-Kindling-Error, whether the gateway refused the call or the call failed inside
// its sandbox (trap, exit, timeout, memory limit, stack overflow) on any tier; an async callback
// carries the same body. A function's own error answer is passed on untouched.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ERRORS, type ErrorCode } from '../../../runtime/errors.js'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { wasiCommand, wat } from '../../helpers/wat.js'
import { DEEP_RECURSION } from '../../isolation/wasm/recursion.js'
import { type CallbackServer, startCallbackServer } from '../ops/helpers.js'

const TIERS = ['inline', 'wasm', 'thread', 'process'] as const

/** A WASI command that writes `text` to stdout (a CGI answer of its own). */
function writes(text: string): string {
  return wasiCommand(
    `(i32.store (i32.const 0) (i32.const 512)) (i32.store (i32.const 4) (i32.const ${Buffer.byteLength(text)}))
     (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))`,
    `(data (i32.const 512) ${JSON.stringify(text)})`,
  )
}

interface Answer {
  statusCode: number
  headers: Record<string, unknown>
  body: string
}

/** Checks the answer is kindling's error JSON for `code`; returns its message. */
function expectKindlingError(r: Answer, code: ErrorCode): string {
  const status = ERRORS[code].status
  assert.equal(r.statusCode, status, r.body)
  assert.equal(r.headers['x-kindling-error'], code)
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8')
  assert.ok(r.body.endsWith('\n'))
  const e = JSON.parse(r.body) as { code: string; status: number; message: string }
  assert.deepEqual(Object.keys(e), ['code', 'status', 'message'])
  assert.equal(e.code, code)
  assert.equal(e.status, status)
  assert.ok(e.message.includes(ERRORS[code].hint), `the message carries the hint: ${e.message}`)
  return e.message
}

describe('one error shape for every error kindling makes', () => {
  let k: TestKindling
  let cb: CallbackServer
  before(async () => {
    k = await startKindling({ callbackAllow: ['127.0.0.1'] })
    cb = await startCallbackServer()
    const trap = await wat(wasiCommand('(unreachable)'))
    for (const tier of TIERS) await k.deploy(`trap-${tier}`, trap, { labels: { 'com.kindling.isolation': tier } })
    await k.deploy('exiter', exampleModule('read-secret'))
    await k.deploy('looper', await wat(wasiCommand('(loop $l (br $l))')), { labels: { 'com.kindling.timeout': '200ms' } })
    await k.deploy('grower', await wat(wasiCommand('(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) (unreachable)')), { limits: { memory: '2Mi' } })
    await k.deploy('deep', await wat(DEEP_RECURSION))
    await k.deploy('own500', await wat(writes('Status: 500\nContent-Type: text/plain\n\nmy own failure\n')))
  })
  after(async () => {
    await k?.cleanup()
    await cb?.close()
  })

  const call = (fn: string) => k.app.inject({ method: 'POST', url: `/function/${fn}`, payload: '' })

  for (const tier of TIERS) {
    it(`answers a trap on the ${tier} tier with the error JSON`, async () => {
      assert.match(expectKindlingError(await call(`trap-${tier}`), 'KINDLING_ERR_FUNCTION_TRAP'), /^the function trapped: RuntimeError: unreachable/)
    })
  }

  it('answers a non-zero exit with the error JSON, the function\'s stderr in the message', async () => {
    const message = expectKindlingError(await call('exiter'), 'KINDLING_ERR_FUNCTION_EXIT')
    assert.match(message, /^the function exited with status 2\. .*its stderr follows\.\nusage: \?<secret name>/)
  })

  it('answers a timeout, a memory limit and a stack overflow with the error JSON', async () => {
    expectKindlingError(await call('looper'), 'KINDLING_ERR_TIMEOUT')
    assert.match(expectKindlingError(await call('grower'), 'KINDLING_ERR_MEMORY_LIMIT'), /memory limit of 2 MiB/)
    assert.match(expectKindlingError(await call('deep'), 'KINDLING_ERR_STACK_OVERFLOW'), /recursed too deep/)
  })

  it('answers the gateway\'s own refusals the same way', async () => {
    expectKindlingError(await call('nobody'), 'KINDLING_ERR_FUNCTION_NOT_FOUND')
  })

  it('passes a function\'s own 500 on untouched', async () => {
    const r = await call('own500')
    assert.equal(r.statusCode, 500)
    assert.equal(r.headers['x-kindling-error'], undefined)
    assert.equal(r.headers['content-type'], 'text/plain')
    assert.equal(r.body, 'my own failure\n')
  })

  it('calls back with the same error JSON and X-Kindling-Error as a synchronous caller gets', async () => {
    const sync = await call('trap-wasm')
    await k.deploy('trap-async', await wat(wasiCommand('(unreachable)')), { annotations: { 'com.openfaas.retry.attempts': '0' } })
    cb.received.length = 0
    const r = await k.app.inject({ method: 'POST', url: '/async-function/trap-async', headers: { 'x-callback-url': cb.url } })
    assert.equal(r.statusCode, 202)
    const [got] = await cb.waitFor(1)
    assert.equal(got!.headers['x-function-status'], '500')
    expectKindlingError({ statusCode: 500, headers: got!.headers, body: got!.body.toString() }, 'KINDLING_ERR_FUNCTION_TRAP')
    assert.deepEqual(JSON.parse(got!.body.toString()), JSON.parse(sync.body))
    // a function's own failure carries no kindling header
    await k.deploy('own500-async', await wat(writes('Status: 500\nContent-Type: text/plain\n\nmy own failure\n')), { annotations: { 'com.openfaas.retry.attempts': '0' } })
    cb.received.length = 0
    await k.app.inject({ method: 'POST', url: '/async-function/own500-async', headers: { 'x-callback-url': cb.url } })
    const [own] = await cb.waitFor(1)
    assert.equal(own!.headers['x-kindling-error'], undefined)
    assert.equal(own!.body.toString(), 'my own failure\n')
  })
})
