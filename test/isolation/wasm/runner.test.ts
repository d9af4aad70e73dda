import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { request, wasmFunction } from './runner-helpers.js'
import { wasiCommand, wat } from '../../helpers/wat.js'

/** A WASI command that writes "n=<global>" after incrementing a global, so leaked state shows. */
const counterCommand = wasiCommand(
  `(global.set $n (i32.add (global.get $n) (i32.const 1)))
   (i32.store8 (i32.const 102) (i32.add (i32.const 48) (global.get $n)))
   (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 3))
   (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))`,
  `(global $n (mut i32) (i32.const 0)) (data (i32.const 100) "n=")`,
)

describe('runner: WASI commands', () => {
  it('runs cat, env and sha512sum with the CGI contract', () => {
    const cat = wasmFunction('cat').createSandbox()
    const r = cat.run(request('hello'))
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), 'hello')
    assert.equal(r.headers['content-type'], 'text/plain')

    const env = wasmFunction('env', { envVars: { custom_env: 'custom_env_value' } }).createSandbox()
    const out = env.run(request('', { method: 'GET', query: 'testing=1', path: '/a/b', headers: { 'x-call-id': 'abc', 'content-type': 'text/plain' } })).body.toString()
    for (const want of ['custom_env=custom_env_value', 'Http_Query=testing=1', 'Http_X_Call_Id=abc', 'Http_Method=GET', 'Http_Path=/a/b', 'QUERY_STRING=testing=1', 'REQUEST_METHOD=GET', 'PATH_INFO=/a/b', 'CONTENT_TYPE=text/plain']) {
      assert.ok(out.split('\n').includes(want), `env output has ${want}`)
    }

    const sha = wasmFunction('sha512sum').createSandbox()
    assert.equal(sha.run(request('hello world')).body.toString(), '309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f  -\n')
  })

  it('turns a CGI header block into status and headers', () => {
    const r = wasmFunction('hello-cgi').createSandbox().run(request('', { path: '/x', query: 'q=1' }))
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-type'], 'application/json')
    assert.equal(r.headers['x-served-by-function'], 'hello-cgi')
    assert.deepEqual(JSON.parse(r.body.toString()), { hello: 'world', path: '/x', query: 'q=1' })
  })

  it('answers 500 with the error JSON, stderr in its message, when the program exits non-zero', () => {
    const r = wasmFunction('read-secret').createSandbox().run(request(''))
    assert.equal(r.status, 500)
    assert.equal(r.errorCode, 'KINDLING_ERR_FUNCTION_EXIT')
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8')
    const e = JSON.parse(r.body.toString()) as { code: string; status: number; message: string }
    assert.deepEqual(Object.keys(e), ['code', 'status', 'message'])
    assert.equal(e.code, 'KINDLING_ERR_FUNCTION_EXIT')
    assert.equal(e.status, 500)
    assert.match(e.message, /^the function exited with status 2\. The function exited with a non-zero status; its stderr follows\.\nusage/)
  })

  it('reads secrets from the read-only preopened directory and cannot escape it', () => {
    const fn = wasmFunction('read-secret', { preopens: [{ guestPath: '/var/openfaas/secrets', files: { 'api-key': Buffer.from('s3cr3t').toString('base64') } }] })
    const sb = fn.createSandbox()
    const ok = sb.run(request('', { query: 'api-key' }))
    assert.equal(ok.status, 200)
    assert.equal(ok.body.toString(), 's3cr3t')
    sb.cleanup()
    const missing = sb.run(request('', { query: 'nope' }))
    assert.equal(missing.status, 500)
    assert.match(missing.body.toString(), /No such file/)
  })

  it('answers 500 with the trap message when the function traps', async () => {
    const bytes = await wat(wasiCommand('(unreachable)'))
    const r = wasmFunction(bytes).createSandbox().run(request())
    assert.equal(r.status, 500)
    assert.equal(r.errorCode, 'KINDLING_ERR_FUNCTION_TRAP')
    assert.match(r.body.toString(), /unreachable/)
  })

  it('stops an infinite loop at the deadline with 504', async () => {
    const bytes = await wat(wasiCommand('(loop $l (br $l))'))
    const sb = wasmFunction(bytes).createSandbox()
    const t0 = Date.now()
    const r = sb.run(request('', { deadline: Date.now() + 100 }))
    const took = Date.now() - t0
    assert.equal(r.status, 504)
    assert.equal(r.errorCode, 'KINDLING_ERR_TIMEOUT')
    assert.ok(took >= 90 && took < 1000, `stopped after ${took} ms`)
    // the sandbox is usable again afterwards
    sb.cleanup()
    assert.equal(sb.run(request('', { deadline: Date.now() + 50 })).status, 504)
  })

  it('reports a memory limit when growth fails at the limit', async () => {
    const bytes = await wat(wasiCommand(`(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) (unreachable)`))
    const r = wasmFunction(bytes, {}, 2 * 1024 * 1024).createSandbox().run(request())
    assert.equal(r.status, 500)
    assert.equal(r.errorCode, 'KINDLING_ERR_MEMORY_LIMIT')
    assert.match(r.body.toString(), /memory limit of 2 MiB/)
  })

  it('gives every call fresh state, by snapshot reset and by re-instantiation', async () => {
    const bytes = await wat(counterCommand)
    for (const resetMode of ['snapshot', 'reinstantiate'] as const) {
      const sb = wasmFunction(bytes, { resetMode }).createSandbox()
      for (let i = 0; i < 3; i++) {
        assert.equal(sb.run(request()).body.toString(), 'n=1', `${resetMode} call ${i}`)
        sb.cleanup()
      }
      assert.equal(sb.stats.resets, resetMode === 'snapshot' ? 3 : 0)
    }
  })

  it('limits output size', async () => {
    const bytes = await wat(wasiCommand(`(i32.store (i32.const 0) (i32.const 0)) (i32.store (i32.const 4) (i32.const 65536))
      (loop $l (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l))`))
    const r = wasmFunction(bytes, { maxOutputBytes: 200_000 }).createSandbox().run(request())
    assert.equal(r.status, 500)
    assert.match(r.body.toString(), /more than 200000 bytes/)
  })
})

describe('runner: AssemblyScript', () => {
  it('calls handle with the body as a string and handleBytes with bytes', () => {
    assert.equal(wasmFunction('echo').createSandbox().run(request('héllo')).body.toString(), 'héllo')
    assert.equal(wasmFunction('fib').createSandbox().run(request('20')).body.toString(), '6765\n')
    const rev = wasmFunction('reverse-bytes').createSandbox().run(request('abc'))
    assert.equal(rev.body.toString(), 'cba')
    assert.equal(rev.headers['content-type'], 'application/octet-stream')
  })

  it('passes long strings (the TextDecoder path) and astral characters both ways', () => {
    const text = `${'héllo wörld 🦀 '.repeat(80)}end`
    assert.equal(wasmFunction('echo').createSandbox().run(request(text)).body.toString(), text)
  })

  it('makes every instance from the sandbox\'s one imports object (no per-instance copies)', () => {
    // issue 17: the loader this replaced got a fresh copy of the imports for each instance
    const seen = new Set<unknown>()
    const Instance = WebAssembly.Instance
    WebAssembly.Instance = function (this: unknown, m: WebAssembly.Module, i?: WebAssembly.Imports) {
      seen.add(i)
      return new Instance(m, i)
    } as unknown as typeof WebAssembly.Instance
    try {
      const sb = wasmFunction('echo', { resetMode: 'reinstantiate', prewarm: false }).createSandbox()
      for (let k = 0; k < 3; k++) {
        assert.equal(sb.run(request(`call ${k}`)).body.toString(), `call ${k}`)
        sb.cleanup()
      }
      assert.equal(sb.stats.instantiations, 3)
    } finally {
      WebAssembly.Instance = Instance
    }
    assert.equal(seen.size, 1)
  })

  it('turns an abort into a trap naming its message, as the AssemblyScript loader did', async () => {
    const bytes = await wat(`(module
      (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 12) "\\04\\00\\00\\00")
      (data (i32.const 8) "\\02\\00\\00\\00")
      (data (i32.const 16) "o\\00k\\00")
      (func (export "__new") (param i32 i32) (result i32) (i32.const 1024))
      (func (export "handle") (param i32) (result i32) (call $abort (i32.const 16) (i32.const 0) (i32.const 3) (i32.const 7)) (i32.const 0)))`)
    const r = wasmFunction(bytes).createSandbox().run(request('x'))
    assert.equal(r.status, 500)
    assert.match(r.body.toString(), /abort: ok at :3:7/)
  })

  it('keeps state only when deployed for reuse', () => {
    const fresh = wasmFunction('counter').createSandbox()
    const reuse = wasmFunction('counter', { stateMode: 'reuse' }).createSandbox()
    const seen = { fresh: [] as string[], reuse: [] as string[] }
    for (let i = 0; i < 3; i++) {
      seen.fresh.push(fresh.run(request()).body.toString().trim())
      seen.reuse.push(reuse.run(request()).body.toString().trim())
      fresh.cleanup()
      reuse.cleanup()
    }
    assert.deepEqual(seen, { fresh: ['1', '1', '1'], reuse: ['1', '2', '3'] })
  })
})

describe('runner: a hostile AssemblyScript-shaped module', () => {
  /** memory, __new and a handler that answers `result` (an i32 expression) whatever it was given */
  const hostile = (handler: 'handle' | 'handleBytes', result: string) =>
    wat(`(module
      (memory (export "memory") 1)
      (global $top (mut i32) (i32.const 1024))
      (func (export "__new") (param $size i32) (param $id i32) (result i32)
        (local $p i32)
        (local.set $p (i32.add (global.get $top) (i32.const 16)))
        (i32.store (i32.sub (local.get $p) (i32.const 8)) (local.get $id))
        (i32.store (i32.sub (local.get $p) (i32.const 4)) (local.get $size))
        (global.set $top (i32.add (local.get $p) (local.get $size)))
        (local.get $p))
      (func (export "${handler}") (param i32) (result i32) ${result}))`)

  it('answers a failed call, not a crash, for result pointers outside memory or not at a string', async () => {
    for (const result of ['(i32.const -8)', '(i32.const 0x7ffffff0)', '(i32.const 65532)', '(i32.const 512)']) {
      const sb = wasmFunction(await hostile('handle', result)).createSandbox()
      const r = sb.run(request('hello'))
      assert.equal(r.status, 500, `handle returning ${result}`)
      assert.ok(r.errorCode, `handle returning ${result} has an error code`)
    }
  })

  it('gives back no more than the guest\'s own memory for an ArrayBuffer whose size lies', async () => {
    // a size header of 0x7fffffff at a pointer inside memory: the copy stops at the memory's end
    const lying = `(i32.store (i32.const 2044) (i32.const 0x7fffffff)) (i32.const 2048)`
    const r = wasmFunction(await hostile('handleBytes', lying)).createSandbox().run(request('hello'))
    assert.ok(r.body.length <= 65536 - 2048, `body of ${r.body.length} bytes stays inside the 64 KiB memory`)
  })
})
