import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exampleModule, startKindling, type TestKindling } from '../../helpers/kindling.js'
import { failUntil, flakyModule, startCallbackServer, waitUntil, type CallbackServer } from './helpers.js'

describe('metrics: GET /metrics', () => {
  let k: TestKindling
  let cb: CallbackServer
  before(async () => {
    k = await startKindling({ asyncRetryMinWaitMs: 10, asyncRetryMaxWaitMs: 20, callbackAllow: ['127.0.0.1'] })
    cb = await startCallbackServer()
    await k.deploy('m', exampleModule('cat'), { labels: { 'com.openfaas.scale.min': '2' } })
    await k.deploy('fl', await flakyModule(), { annotations: { 'com.openfaas.retry.attempts': '1' } })
    await waitUntil('warm sandboxes', async () => (await k.app.inject({ method: 'GET', url: '/system/function/fl', headers: k.auth })).json().availableReplicas >= 1)
    for (let i = 0; i < 3; i++) await k.app.inject({ method: 'POST', url: '/function/m', payload: 'x' })
    await k.app.inject({ method: 'POST', url: '/system/scale-function/m', headers: k.auth, payload: { serviceName: 'm', replicas: 0 } })
    await k.app.inject({ method: 'POST', url: '/function/m', payload: 'from zero' })
    const r = await k.app.inject({ method: 'POST', url: '/async-function/fl', headers: { 'x-callback-url': cb.url }, payload: failUntil(Date.now() + 3_600_000) })
    await cb.waitFor(1)
    const id = r.headers['x-call-id'] as string
    await waitUntil('the delivery to be recorded', async () => (await k.app.inject({ method: 'GET', url: `/system/async-calls/${id}`, headers: k.auth })).json().state === 'dead')
  })
  after(async () => {
    await k.cleanup()
    await cb.close()
  })

  const scrape = async () => (await k.app.inject({ method: 'GET', url: '/metrics' })).body
  const has = (text: string, re: RegExp, why?: string) => assert.match(text, re, why)

  it('exports the OpenFaaS gateway series with function_name = name.namespace and code', async () => {
    const t = await scrape()
    has(t, /^gateway_function_invocation_total\{function_name="m\.openfaas-fn",code="200"\} 4$/m)
    has(t, /^gateway_function_invocation_total\{function_name="fl\.openfaas-fn",code="500"\} 2$/m)
    has(t, /^gateway_functions_seconds_bucket\{le="0\.005",function_name="m\.openfaas-fn",code="200"\} \d+$/m)
    has(t, /^gateway_functions_seconds_count\{function_name="m\.openfaas-fn",code="200"\} 4$/m)
    has(t, /^gateway_function_invocation_started\{function_name="m\.openfaas-fn"\} 4$/m)
    has(t, /^gateway_service_count\{function_name="m\.openfaas-fn"\} 2$/m, 'scaled from zero back to max(min, 1)')
    has(t, /^gateway_service_ready_count\{function_name="m\.openfaas-fn"\} \d+$/m)
  })

  it('exports kindling\'s own: cold starts by tier and phase, sandboxes by state, queues, scaling, app hosts', async () => {
    const t = await scrape()
    has(t, /^kindling_cold_starts_total\{function_name="m\.openfaas-fn",tier="wasm",critical_path="(true|false)"\} \d+$/m)
    has(t, /^kindling_cold_starts_total\{function_name="m\.openfaas-fn",tier="wasm",critical_path="true"\} [1-9]\d*$/m)
    for (const phase of ['prepare', 'spawn', 'instantiate']) has(t, new RegExp(`^kindling_cold_start_seconds_count\\{tier="wasm",phase="${phase}"\\} [1-9]\\d*$`, 'm'))
    for (const state of ['idle', 'busy', 'starting']) has(t, new RegExp(`^kindling_sandboxes\\{function_name="m\\.openfaas-fn",tier="wasm",state="${state}"\\} \\d+$`, 'm'))
    has(t, /^kindling_queue_depth\{function_name="m\.openfaas-fn"\} 0$/m)
    has(t, /^kindling_scale_events_total\{function_name="m\.openfaas-fn",reason="api"\} 1$/m)
    has(t, /^kindling_scale_events_total\{function_name="m\.openfaas-fn",reason="from-zero"\} 1$/m)
    has(t, /^kindling_app_host_restarts_total \d+$/m)
  })

  it('exports the async queue: depth by state, calls by status, retries, callbacks', async () => {
    const t = await scrape()
    for (const state of ['queued', 'running', 'delivering']) has(t, new RegExp(`^kindling_async_queue_depth\\{state="${state}"\\} 0$`, 'm'))
    has(t, /^kindling_async_calls_total\{status="accepted"\} 1$/m)
    has(t, /^kindling_async_calls_total\{status="failed"\} 1$/m)
    has(t, /^kindling_async_retries_total\{function_name="fl\.openfaas-fn"\} 1$/m)
    has(t, /^kindling_async_callbacks_total\{result="delivered"\} 1$/m)
  })
})
