// In-process A/B of the pieces of a warm call changed for issue 17, each before (A) and after (B),
// in alternating rounds (medians of ns per operation; the spread of the per-round B/A ratios is the
// noise). CPU work measured in-process is far less disturbed by other work on a shared machine
// than req/s over loopback. The frame decoder is compared between two builds (--a, --b dirs);
// the header and cancel cases carry the replaced lines (A) beside the gateway's current code (B).
// With --b the same build as --a, the decoder rows are an A/A run (their noise).
//   node dist/bench/profiles/micro-ab.js --a tmp/ab-A [--b .] [--rounds 15]
import path from 'node:path'
import { parseArgs } from 'node:util'
import type * as Protocol from '../../isolation/index.js'
import { CallCancel } from '../../runtime/index.js'
import { median } from '../lib/stats.js'

const { values } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string', default: '.' }, rounds: { type: 'string', default: '15' } } })
if (!values.a) throw new Error('--a DIR is required')
const load = async (root: string) => (await import(path.resolve(root, 'dist/isolation/apphost/protocol.js'))) as typeof Protocol
const proto = { A: await load(values.a), B: await load(values.b!) }
const meta = { sb: 'sb-1', callId: 'c0ffee00-0000-4000-8000-000000000000', method: 'POST', path: '/', query: '', headers: { 'content-type': 'text/plain', 'content-length': '5', host: '127.0.0.1:8080' }, deadline: 1e13 }
let sink = 0

function decoder(p: typeof Protocol, perChunk: number) {
  const frame = p.encodeFrame(102, 1, { status: 200, headers: { 'content-type': 'text/plain' } }, Buffer.from('hello'))
  // fresh chunks, as a socket hands them over (not views of one another)
  const chunks = Array.from({ length: 64 }, () => Buffer.from(Buffer.concat(Array(perChunk).fill(frame))))
  const d = new p.FrameDecoder()
  return (i: number) => d.push(chunks[i % 64]!, (f) => (sink += f.payload.length))
}

const GATEWAY_SET = new Set(['x-call-id', 'x-start-time', 'x-served-by', 'x-duration-seconds', 'content-length'])
// what the app host sends back: JSON-parsed, as the gateway receives it
const fnHeaders = () => JSON.parse('{"content-type":"text/plain"}') as Record<string, string | string[]>
const headersA = () => {
  const result = { headers: fnHeaders(), body: Buffer.alloc(5), errorCode: undefined as string | undefined }
  const headers: Record<string, string | string[] | number> = { ...result.headers }
  headers['x-call-id'] = 'c0ffee00-0000-4000-8000-000000000000'
  headers['x-start-time'] = `${Date.now()}000000`
  headers['x-served-by'] = 'kindling/0.1.0'
  headers['x-duration-seconds'] = (performance.now() / 1000).toFixed(6)
  headers['content-length'] = result.body.length
  if (result.errorCode) headers['x-kindling-error'] = result.errorCode
  sink += Object.keys(headers).length
}
const headersB = () => {
  const result = { headers: fnHeaders(), body: Buffer.alloc(5), errorCode: undefined as string | undefined }
  const headers: Record<string, string | string[]> = {
    'x-call-id': 'c0ffee00-0000-4000-8000-000000000000',
    'x-start-time': `${Date.now()}000000`,
    'x-served-by': 'kindling/0.1.0',
    'x-duration-seconds': (performance.now() / 1000).toFixed(6),
    'content-length': String(result.body.length),
  }
  for (const k in result.headers) if (!GATEWAY_SET.has(k)) headers[k] = result.headers[k]!
  if (result.errorCode) headers['x-kindling-error'] = result.errorCode
  sink += Object.keys(headers).length
}
// a call's signal as the gateway made it and the app-host handle used it: one listener, removed at the answer
const onAbort = () => sink++
const cancelA = () => {
  const c = new AbortController()
  c.signal.addEventListener('abort', onAbort, { once: true })
  if (!c.signal.aborted) c.signal.removeEventListener('abort', onAbort)
}
const cancelB = () => {
  const c = new CallCancel()
  c.addEventListener('abort', onAbort)
  if (!c.aborted) c.removeEventListener('abort', onAbort)
}

const cases: [string, (i: number) => void, (i: number) => void, number][] = [
  ['frame decode, 1 frame per read chunk', decoder(proto.A, 1), decoder(proto.B, 1), 200_000],
  ['frame decode, 16 frames per read chunk (x16 frames)', decoder(proto.A, 16), decoder(proto.B, 16), 20_000],
  ['response headers of a call', headersA, headersB, 200_000],
  ['cancel signal of a call (make, listen, unlisten)', cancelA, cancelB, 200_000],
]
const time = (f: (i: number) => void, n: number) => {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) f(i)
  return Number(process.hrtime.bigint() - t0) / n
}
for (const [name, a, b, n] of cases) {
  const got = { A: [] as number[], B: [] as number[] }
  for (let r = 0; r < Number(values.rounds); r++) {
    if (r % 2) (got.A.push(time(a, n)), got.B.push(time(b, n)))
    else (got.B.push(time(b, n)), got.A.push(time(a, n)))
  }
  const ratios = got.A.map((x, i) => got.B[i]! / x).slice(2) // the first rounds warm up both
  console.log(`${name}: A ${median(got.A.slice(2)).toFixed(0)} ns, B ${median(got.B.slice(2)).toFixed(0)} ns per op, B/A median ${median(ratios).toFixed(3)} (rounds ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`)
}
if (sink === -1) console.log('')
