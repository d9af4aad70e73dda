import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { canonicalHeaderName, parseCgiOutput } from '../../../isolation/wasm/cgi.js'

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
