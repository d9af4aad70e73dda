// The one hop-by-hop list (issue 11 item 6): every place that drops connection headers uses it, and
// each keeps its meaning (requests to a function keep their length; responses and re-sent requests
// are framed by kindling, so their content-length goes too).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { HOP_BY_HOP_HEADERS, isHopByHop, stripHopByHop } from '../../isolation/http-headers.js'
import { parseCgiOutput } from '../../isolation/wasm/cgi.js'
import { REPO_ROOT } from '../../runtime/version.js'

const ALL = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']

describe('hop-by-hop headers', () => {
  it('lists the RFC 9110 connection headers plus Keep-Alive and Proxy-Connection, and strips only those', () => {
    assert.deepEqual([...HOP_BY_HOP_HEADERS].sort(), [...ALL].sort())
    const given: Record<string, string | undefined> = { 'content-type': 'text/plain', 'content-length': '3', 'x-a': '1', gone: undefined }
    for (const h of ALL) given[h] = 'x'
    assert.deepEqual(stripHopByHop(given), { 'content-type': 'text/plain', 'content-length': '3', 'x-a': '1' })
    assert.deepEqual(stripHopByHop(given, { contentLength: true }), { 'content-type': 'text/plain', 'x-a': '1' })
    assert.equal(isHopByHop('content-length'), false)
    assert.equal(isHopByHop('content-length', { contentLength: true }), true)
  })

  it('drops every hop-by-hop header a WASI function writes in its CGI block', () => {
    const block = [...ALL.map((h) => `${h}: x`), 'Content-Length: 99', 'Content-Type: text/plain', 'X-Kept: yes', '', 'body'].join('\n')
    const r = parseCgiOutput(Buffer.from(block), 'application/octet-stream')
    assert.deepEqual(r.headers, { 'content-type': 'text/plain', 'x-kept': 'yes' })
    assert.equal(r.body.toString(), 'body')
  })

  it('is the only hop-by-hop list in runtime/ and isolation/', () => {
    const own: string[] = []
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.name.endsWith('.ts') && p !== path.join(REPO_ROOT, 'isolation', 'http-headers.ts')) {
          // a set or array literal naming both 'keep-alive' and 'transfer-encoding' is a list of its own
          if (/\[[^\]]*'keep-alive'[^\]]*\]/.test(fs.readFileSync(p, 'utf8'))) own.push(path.relative(REPO_ROOT, p))
        }
      }
    }
    walk(path.join(REPO_ROOT, 'runtime'))
    walk(path.join(REPO_ROOT, 'isolation'))
    assert.deepEqual(own, [])
  })
})
