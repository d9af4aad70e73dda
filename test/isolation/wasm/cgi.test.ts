import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { callEnvironment } from '../../../isolation/container/classic.js'
import { canonicalHeaderName, cgiEnvironment, parseCgiOutput } from '../../../isolation/wasm/cgi.js'
import type { InvokeRequest } from '../../../isolation/tier.js'

describe('CGI environment', () => {
  // a caller trying to pass for the gateway and the deployment with headers of its own
  const forged = {
    method: 'DELETE', path: '/forged', query: 'forged=1', 'content-length': '999', contentlength: '999',
    team: 'caller', 'content-type': 'text/plain', 'x-fine': 'kept',
  }
  const req = (query: string): InvokeRequest => ({
    callId: 'c', method: 'POST', path: '/real', query, headers: forged, body: Buffer.from('abc'), deadline: Date.now() + 1000,
  })
  /** the values of `name` in a KEY=value list */
  const values = (env: string[], name: string) => env.filter((kv) => kv.startsWith(`${name}=`)).map((kv) => kv.slice(name.length + 1))

  it('sets each variable once, and request headers cannot forge the gateway\'s or the deployment\'s', () => {
    for (const query of ['a=1', '']) {
      const env = cgiEnvironment(req(query), 'fn', { Http_Team: 'deployment', REQUEST_METHOD: 'deployment' })
      assert.deepEqual(values(env, 'Http_Method'), ['POST'])
      assert.deepEqual(values(env, 'Http_Path'), ['/real'])
      assert.deepEqual(values(env, 'Http_Query'), query ? [query] : [], 'no query: no Http_Query, not the header\'s')
      assert.deepEqual(values(env, 'Http_Content_Length'), ['3'])
      assert.deepEqual(values(env, 'Http_Team'), ['deployment'])
      assert.deepEqual(values(env, 'REQUEST_METHOD'), ['POST'])
      assert.deepEqual(values(env, 'PATH_INFO'), ['/real'])
      assert.deepEqual(values(env, 'QUERY_STRING'), [query])
      assert.deepEqual(values(env, 'CONTENT_LENGTH'), ['3'])
      assert.deepEqual(values(env, 'X_Fine'), [])
      assert.deepEqual(values(env, 'Http_X_Fine'), ['kept'])
      const names = env.map((kv) => kv.slice(0, kv.indexOf('=')))
      assert.equal(new Set(names).size, names.length, `one entry per name: ${names.join(' ')}`)
    }
  })

  it('names headers the same way however many made-up header names callers have sent (bounded name cache)', () => {
    for (let i = 0; i < 3000; i++) cgiEnvironment({ ...req(''), headers: { [`x-junk-${i}`]: 'v' } }, 'fn', {})
    const env = cgiEnvironment({ ...req(''), headers: { 'x-brand-new': '1', method: 'DELETE', 'x-junk-2999': 'w' } }, 'fn', {})
    assert.deepEqual(values(env, 'Http_X_Brand_New'), ['1'])
    assert.deepEqual(values(env, 'Http_X_Junk_2999'), ['w'])
    assert.deepEqual(values(env, 'Http_Method'), ['POST'])
  })

  it('does the same for the container tier\'s classic watchdog, over the container\'s environment', () => {
    for (const query of ['a=1', '']) {
      const env = callEnvironment(req(query), 'fn', ['Http_Team=deployment', 'fprocess=cat'])
      assert.deepEqual(values(env, 'Http_Method'), ['POST'])
      assert.deepEqual(values(env, 'Http_Path'), ['/real'])
      assert.deepEqual(values(env, 'Http_Query'), query ? [query] : [])
      assert.deepEqual(values(env, 'Http_Content_Length'), ['3'])
      assert.deepEqual(values(env, 'Http_ContentLength'), ['3'])
      assert.deepEqual(values(env, 'Http_Team'), [], 'the shim would export it over the deployment\'s value')
      assert.deepEqual(values(env, 'Http_X_Fine'), ['kept'])
    }
  })
})

describe('CGI output', () => {
  const parse = (s: string) => parseCgiOutput(Buffer.from(s), 'text/plain')

  it('treats output without a header block as the body (classic watchdog)', () => {
    const r = parse('just a body\n\nwith blank lines')
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), 'just a body\n\nwith blank lines')
    assert.equal(r.headers['content-type'], 'text/plain')
  })

  it('reads Status, Content-Type and extra headers, with LF or CRLF', () => {
    for (const nl of ['\n', '\r\n']) {
      const r = parse(`Status: 201 Created${nl}Content-Type: application/json${nl}X-Thing: 1${nl}${nl}{"a":1}`)
      assert.equal(r.status, 201)
      assert.equal(r.headers['content-type'], 'application/json')
      assert.equal(r.headers['x-thing'], '1')
      assert.equal(r.body.toString(), '{"a":1}')
    }
  })

  it('keeps every value of a header sent more than once (set-cookie)', () => {
    const r = parse('Content-Type: text/plain\nSet-Cookie: a=1; Path=/\nSet-Cookie: b=2\nX-One: x\n\nbody')
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2'])
    assert.equal(r.headers['x-one'], 'x')
  })

  it('answers 302 for Location unless Status says otherwise, and 502 for a bad Status', () => {
    assert.equal(parse('Location: /x\n\n').status, 302)
    assert.equal(parse('Location: /x\nStatus: 301\n\n').status, 301)
    assert.equal(parse('Status: abc\n\n').status, 502)
  })

  it('does not mistake a body that looks like a header for one', () => {
    assert.equal(parse('Hello: world\n\nrest').body.toString(), 'Hello: world\n\nrest')
    assert.equal(parse('Content-Type: text/html\nnot a header\n\nx').body.toString(), 'Content-Type: text/html\nnot a header\n\nx')
  })

  it('names headers the way Go canonicalises them', () => {
    assert.equal(canonicalHeaderName('x-call-id'), 'X-Call-Id')
    assert.equal(canonicalHeaderName('CONTENT-TYPE'), 'Content-Type')
  })
})
