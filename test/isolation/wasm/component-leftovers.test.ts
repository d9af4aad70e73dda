// What a component instance kept for reuse (com.kindling.state=reuse) can still reach of an earlier
// call through the host: nothing. Its request, headers and body stream close with the call; stdio
// it kept writes to the call in progress. Driven through the host the runner uses, call by call.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ComponentHost, type HostCall } from '../../../isolation/component/host/imports.js'
import { InputStream, OutputStream, WitError } from '../../../isolation/component/host/io.js'
import type { InvokeRequest } from '../../../isolation/tier.js'
import { OutputBuffer } from '../../../isolation/wasm/wasi.js'

const newCall = (): HostCall => ({ deadline: Date.now() + 5000, maxBodyBytes: 1 << 20, env: [], args: ['fn'], logs: new OutputBuffer(1 << 20) })
const request = (secret: string): InvokeRequest => ({
  callId: 'c', method: 'POST', path: '/first', query: '', headers: { authorization: `Bearer ${secret}` }, body: Buffer.from(secret), deadline: Date.now() + 5000,
})

interface Request {
  method(): unknown
  headers(): { get(name: string): Uint8Array[]; entries(): unknown[] }
  consume(): { stream(): InputStream }
}

describe('component host: nothing of a call outlives it', () => {
  it('closes the request, its headers and its body stream when the call ends; stdio follows the current call', () => {
    const host = new ComponentHost()
    const first = newCall()
    host.begin(first)
    const kept = host.http.incomingRequest(request('first-caller')) as Request
    const keptHeaders = kept.headers()
    const keptUnread = host.http.incomingRequest(request('first-caller')) as Request
    const stream = (host.http.incomingRequest(request('first-caller')) as Request).consume().stream()
    const stdout = (host.imports['wasi:cli/stdout']!.getStdout as () => OutputStream)()
    assert.equal(keptHeaders.get('authorization').length, 1)
    host.end()

    const second = newCall()
    host.begin(second)
    assert.throws(() => kept.method(), /after its call ended/)
    assert.deepEqual(keptHeaders.get('authorization'), [])
    assert.deepEqual(kept.headers().entries(), [])
    assert.throws(() => keptUnread.consume(), WitError)
    assert.throws(() => stream.read(100n), (e: unknown) => e instanceof WitError && (e.payload as { tag: string }).tag === 'closed')
    stdout.write(Buffer.from('logged in the second call'))
    host.end()
    assert.equal(second.logs.toBuffer().toString(), 'logged in the second call')
    assert.equal(first.logs.length, 0)
  })
})
