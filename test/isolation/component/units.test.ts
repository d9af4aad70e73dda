// The pieces of component support that need no process: reading a component's world, the upload
// policy, and the host's wasi:http fields and request mapping.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkWorld } from '../../../isolation/component/classify.js'
import { ComponentHost } from '../../../isolation/component/host/imports.js'
import { methodOf } from '../../../isolation/component/host/http.js'
import { WitError } from '../../../isolation/component/host/io.js'
import { GRANTED_INTERFACES, KEYVALUE_INTERFACES } from '../../../isolation/component/interfaces.js'
import { parseWorld } from '../../../isolation/component/world.js'
import { KindlingError } from '../../../runtime/errors.js'
import { OutputBuffer } from '../../../isolation/wasm/wasi.js'
import { treeFromFiles } from '../../../isolation/wasm/wasi-fs.js'

// as `wasm-tools component wit` prints a componentize-js (StarlingMonkey) component
const JS_COMPONENT_WIT = `package root:component;

world root {
  import wasi:io/error@0.2.12;
  import wasi:io/poll@0.2.12;
  import wasi:io/streams@0.2.12;
  import wasi:http/types@0.2.10;
  import wasi:http/outgoing-handler@0.2.10;
  import wasi:cli/stdout@0.2.12;
  import wasi:clocks/wall-clock@0.2.12;
  import wasi:random/random@0.2.12;

  export wasi:http/incoming-handler@0.2.10;
}
`

function refusal(f: () => unknown): KindlingError {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof KindlingError)
    return e
  }
  assert.fail('expected a refusal')
}

describe('component worlds', () => {
  it('reads interface imports and exports, and other items apart', () => {
    const w = parseWorld(`package root:component;

world root {
  import wasi:io/streams@0.2.0;
  import log: func(msg: string);
  import custom: interface {
    f: func() -> u32;
  }

  export wasi:http/incoming-handler@0.2.0;
  export run: func();
}
`)
    assert.deepEqual(w, { imports: ['wasi:io/streams@0.2.0'], exports: ['wasi:http/incoming-handler@0.2.0'], otherImports: ['log', 'custom'], otherExports: ['run'] })
  })

  it('accepts a handler of any 0.2.x version with mixed 0.2.x imports', () => {
    assert.equal(checkWorld(parseWorld(JS_COMPONENT_WIT)), 'wasi:http/incoming-handler@0.2.10')
  })

  it('refuses what kindling does not provide, and says what it does', () => {
    const sockets = refusal(() => checkWorld(parseWorld(JS_COMPONENT_WIT.replace('import wasi:random/random@0.2.12;', 'import wasi:sockets/tcp@0.2.0;\n  import fermyon:spin/key-value@2.0.0;'))))
    assert.equal(sockets.code, 'KINDLING_ERR_UNSUPPORTED_FORMAT')
    assert.match(sockets.message, /imports wasi:sockets\/tcp@0\.2\.0, fermyon:spin\/key-value@2\.0\.0, which kindling does not provide/)
    assert.match(sockets.message, /wasi:http\/types/)

    const p3 = refusal(() => checkWorld(parseWorld(JS_COMPONENT_WIT.replace('export wasi:http/incoming-handler@0.2.10', 'export wasi:http/incoming-handler@0.3.0'))))
    assert.match(p3.message, /exports wasi:http\/incoming-handler@0\.3\.0; kindling runs wasi:http 0\.2 handlers/)

    const command = refusal(() => checkWorld(parseWorld(JS_COMPONENT_WIT.replace('export wasi:http/incoming-handler@0.2.10', 'export wasi:cli/run@0.2.0'))))
    assert.match(command.message, /exports wasi:cli\/run@0\.2\.0, not wasi:http\/incoming-handler@0\.2\.x/)

    const old = refusal(() => checkWorld(parseWorld(JS_COMPONENT_WIT.replace('import wasi:io/poll@0.2.12', 'import wasi:io/poll@0.2.0-rc-2023-11-10'))))
    assert.match(old.message, /imports wasi:io\/poll@0\.2\.0-rc-2023-11-10/)
  })

  it('accepts wasi:keyvalue at 0.2.0-draft2 only (the draft the host implements)', () => {
    const kv = (v: string) => JS_COMPONENT_WIT.replace('import wasi:random/random@0.2.12;', `import wasi:keyvalue/store@${v};\n  import wasi:keyvalue/atomics@${v};`)
    assert.equal(checkWorld(parseWorld(kv('0.2.0-draft2'))), 'wasi:http/incoming-handler@0.2.10')
    const draft1 = refusal(() => checkWorld(parseWorld(kv('0.2.0-draft'))))
    assert.match(draft1.message, /imports wasi:keyvalue\/store@0\.2\.0-draft, wasi:keyvalue\/atomics@0\.2\.0-draft, which kindling does not provide.*wasi:keyvalue\/store.* at @0\.2\.0-draft2/)
  })
})

describe('the component host', () => {
  const host = new ComponentHost()
  host.begin({ deadline: Date.now() + 60_000, maxBodyBytes: 1024, env: [['A', 'b']], args: ['f'], logs: new OutputBuffer(1024) })
  type FieldsApi = { append(n: string, v: Uint8Array): void; set(n: string, v: Uint8Array[]): void; get(n: string): Uint8Array[]; entries(): [string, Uint8Array][] }
  const Fields = host.imports['wasi:http/types']!.Fields as new () => FieldsApi
  const bytes = (s: string) => Buffer.from(s)
  const errOf = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      assert.ok(e instanceof WitError)
      return e.payload
    }
    assert.fail('expected an err result')
  }

  it('provides exactly the interfaces the upload check accepts', () => {
    assert.deepEqual(Object.keys(host.imports).sort(), [...GRANTED_INTERFACES, ...KEYVALUE_INTERFACES].sort())
  })

  it('keeps header names case-insensitively and refuses invalid names and values', () => {
    const f = new Fields()
    f.append('X-Thing', bytes('a'))
    f.append('x-thing', bytes('b'))
    assert.deepEqual(f.get('X-THING').map((v) => Buffer.from(v).toString()), ['a', 'b'])
    f.set('x-thing', [bytes('c')])
    assert.deepEqual(f.entries().map(([k, v]) => [k, Buffer.from(v).toString()]), [['x-thing', 'c']])
    assert.deepEqual(errOf(() => f.append('bad name', bytes('x'))), { tag: 'invalid-syntax' })
    assert.deepEqual(errOf(() => f.append('x-split', bytes('a\r\nb: c'))), { tag: 'invalid-syntax' })
  })

  it('gives a request immutable headers, its body once, and the path with its query', () => {
    type Req = { pathWithQuery(): string; method(): unknown; headers(): FieldsApi; consume(): unknown }
    const req = host.http.incomingRequest({ callId: 'c', method: 'PROPFIND', path: '/a/b', query: 'x=1', headers: { host: 'h', 'x-a': 'é' }, body: bytes('body'), deadline: Infinity }) as Req
    assert.equal(req.pathWithQuery(), '/a/b?x=1')
    assert.deepEqual(req.method(), { tag: 'other', val: 'PROPFIND' })
    assert.deepEqual(errOf(() => req.headers().append('x-b', bytes('1'))), { tag: 'immutable' })
    assert.deepEqual(Buffer.from(req.headers().get('x-a')[0]!), Buffer.from('é', 'latin1'))
    req.consume()
    assert.equal(errOf(() => req.consume()), undefined)
    assert.deepEqual(methodOf('GET'), { tag: 'get' })
    assert.deepEqual(methodOf('get'), { tag: 'other', val: 'get' }, 'methods are case-sensitive')
  })

  it('refuses every outgoing request: functions have no network', () => {
    const handle = host.imports['wasi:http/outgoing-handler']!.handle as () => never
    assert.deepEqual(errOf(handle), { tag: 'HTTP-request-denied' })
  })
})

describe('the component host: wasi:filesystem over the secrets preopen', () => {
  const host = new ComponentHost([{ guestPath: '/var/openfaas/secrets', root: treeFromFiles({ token: 'abc123', 'nested/key': 'k' }) }])
  host.begin({ deadline: Date.now() + 60_000, maxBodyBytes: 1024, env: [], args: ['f'], logs: new OutputBuffer(1024) })
  type Dir = {
    openAt(pf: object, path: string, of: object, f: object): Dir
    read(len: bigint, off: bigint): [Uint8Array, boolean]
    stat(): { type: string; size: bigint }
    getType(): string
    readDirectory(): { readDirectoryEntry(): { type: string; name: string } | undefined }
    write(b: Uint8Array, off: bigint): void
  }
  const [[root, guestPath]] = (host.imports['wasi:filesystem/preopens']!.getDirectories as () => [Dir, string][])()
  const errOf = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      assert.ok(e instanceof WitError)
      return e.payload
    }
    assert.fail('expected an err result')
  }
  const read = { read: true }

  it('opens and reads a secret file, in pieces and at an offset', () => {
    assert.equal(guestPath, '/var/openfaas/secrets')
    const f = root.openAt({}, 'token', {}, read)
    assert.equal(f.getType(), 'regular-file')
    assert.equal(f.stat().size, 6n)
    const [head, headEnd] = f.read(4n, 0n)
    assert.equal(Buffer.from(head).toString(), 'abc1')
    assert.equal(headEnd, false)
    const [tail, tailEnd] = f.read(100n, 4n)
    assert.equal(Buffer.from(tail).toString(), '23')
    assert.equal(tailEnd, true)
    assert.equal(Buffer.from(root.openAt({}, 'nested/key', {}, read).read(10n, 0n)[0]).toString(), 'k')
  })

  it('lists the directory', () => {
    const entries = []
    const stream = root.readDirectory()
    for (let e = stream.readDirectoryEntry(); e; e = stream.readDirectoryEntry()) entries.push(`${e.type} ${e.name}`)
    assert.deepEqual(entries.sort(), ['directory nested', 'regular-file token'])
  })

  it('refuses writes, missing files, absolute paths and escapes from the preopen', () => {
    assert.equal(errOf(() => root.openAt({}, 'new', { create: true }, { write: true })), 'read-only')
    assert.equal(errOf(() => root.openAt({}, 'token', {}, { write: true })), 'read-only')
    assert.equal(errOf(() => root.openAt({}, 'token', { truncate: true }, read)), 'read-only')
    assert.equal(errOf(() => root.openAt({}, 'token', {}, read).write(new Uint8Array(1), 0n)), 'read-only')
    assert.equal(errOf(() => root.openAt({}, 'missing', {}, read)), 'no-entry')
    assert.equal(errOf(() => root.openAt({}, '/etc/passwd', {}, read)), 'not-permitted')
    assert.equal(errOf(() => root.openAt({}, '../../etc/passwd', {}, read)), 'not-permitted')
    assert.equal(errOf(() => root.openAt({}, 'token', { directory: true }, read)), 'not-directory')
    assert.equal(errOf(() => root.openAt({}, 'token', {}, read).openAt({}, 'x', {}, read)), 'not-directory')
    assert.equal(errOf(() => root.read(1n, 0n)), 'is-directory')
  })
})
