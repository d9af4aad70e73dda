// wasi:http 0.2 types and outgoing-handler for one sandbox. The incoming side is complete (a
// request built from an InvokeRequest, a response collected into memory); the outgoing side exists
// is refused with HTTP-request-denied unless com.kindling.outbound grants the URL (issue 13 item 1:
// the request is made by the outbound helper thread while this one waits, wasm/host/outbound.ts).
import { OutputBuffer } from '../../wasm/wasi.js'
import type { InvokeRequest } from '../../tier.js'
import { type CallClock, fail, InputStream, ok, OutputStream, Pollable, type Result } from './io.js'
import { blockingOutbound, type OutboundPlan, type OutboundTrace } from '../../wasm/host/outbound.js'
import type { OutboundErrorName } from '../../wasm/host/outbound-fetch.js'
import { DeadlineError } from '../../wasm/wasi.js'

export type ErrorCode = { tag: string; val?: unknown }
type HeaderError = { tag: 'invalid-syntax' | 'forbidden' | 'immutable' }
type Method = { tag: string; val?: string }
type Scheme = { tag: 'HTTP' | 'HTTPS' } | { tag: 'other'; val: string }

export interface HttpCall extends CallClock {
  /** bytes a response body (or an outgoing request body) may hold */
  readonly maxBodyBytes: number
  /** outbound HTTP (issue 13 item 1): what the function may reach (absent: nothing) */
  readonly outbound?: OutboundPlan
  /** throws when the call must end (deadline, cancel): checked while an outgoing request waits */
  readonly check?: () => void
  /** tracing (issue 13 item 6): outgoing requests carry the call's trace, each a client span */
  readonly trace?: OutboundTrace
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const STANDARD_METHODS = new Set(['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch'])

function validValue(v: Uint8Array): boolean {
  for (const b of v) if ((b < 0x20 && b !== 0x09) || b === 0x7f) return false
  return true
}

export function methodOf(m: string): Method {
  const lower = m.toLowerCase()
  return STANDARD_METHODS.has(lower) && m === m.toUpperCase() ? { tag: lower } : { tag: 'other', val: m }
}

/** Everything the runner needs from the http host of one sandbox. */
export interface HttpHost {
  imports: { types: Record<string, unknown>; outgoingHandler: Record<string, unknown> }
  incomingRequest(req: InvokeRequest): object
  responseOutparam(): { param: object; slot: ResponseSlot }
}

export interface ResponseSlot {
  value?: Result<{ status: number; headers: [string, Uint8Array][]; body: OutputBuffer }, ErrorCode>
}

/** Builds the wasi:http classes of one sandbox; `call()` is the call in progress. */
export function createHttpHost(call: () => HttpCall): HttpHost {
  class Fields {
    immutable = false
    /** the call whose request these headers are: they read as empty once it ended */
    owner: CallClock | undefined
    constructor(private list: [string, Uint8Array][] = []) {}

    private get visible(): [string, Uint8Array][] {
      return this.owner?.ended ? [] : this.list
    }

    static fromList(entries: [string, Uint8Array][]): Fields {
      const f = new Fields()
      for (const [k, v] of entries) f.append(k, v)
      return f
    }

    /** an immutable handle on the same entries (headers of a request or response) */
    view(): Fields {
      const f = new Fields(this.list)
      f.immutable = true
      f.owner = this.owner
      return f
    }

    private check(name: string, values: Uint8Array[] = []): void {
      if (this.immutable) fail({ tag: 'immutable' } satisfies HeaderError)
      if (!TOKEN.test(name) || !values.every(validValue)) fail({ tag: 'invalid-syntax' } satisfies HeaderError)
    }

    get(name: string): Uint8Array[] {
      const n = name.toLowerCase()
      return this.visible.filter(([k]) => k === n).map(([, v]) => v)
    }

    has(name: string): boolean {
      const n = name.toLowerCase()
      return this.visible.some(([k]) => k === n)
    }

    set(name: string, values: Uint8Array[]): void {
      this.check(name, values)
      const n = name.toLowerCase()
      // in place: views of these fields (headers() of a request or response) see the change
      const kept = this.list.filter(([k]) => k !== n)
      this.list.length = 0
      this.list.push(...kept, ...values.map((v) => [n, v.slice()] as [string, Uint8Array]))
    }

    delete(name: string): void {
      this.check(name)
      const n = name.toLowerCase()
      const kept = this.list.filter(([k]) => k !== n)
      this.list.length = 0
      this.list.push(...kept)
    }

    append(name: string, value: Uint8Array): void {
      this.check(name, [value])
      this.list.push([name.toLowerCase(), value.slice()])
    }

    entries(): [string, Uint8Array][] {
      return this.visible.map(([k, v]) => [k, v])
    }

    clone(): Fields {
      return new Fields(this.entries())
    }
  }

  class IncomingBody {
    private taken = false
    constructor(
      private readonly bytes: Uint8Array,
      private readonly owner: CallClock,
    ) {}

    stream(): InputStream {
      if (this.taken || this.owner.ended) fail(undefined)
      this.taken = true
      return new InputStream(this.owner, this.bytes)
    }

    static finish(_body: IncomingBody): FutureTrailers {
      return new FutureTrailers()
    }
  }

  /** a request or response body carries no trailers here */
  class FutureTrailers {
    subscribe(): Pollable {
      return new Pollable(call())
    }
    get(): Result<Result<undefined, ErrorCode>, undefined> {
      return ok(ok(undefined))
    }
  }

  class IncomingRequest {
    private consumed = false
    private readonly owner = call()
    constructor(
      private readonly req: InvokeRequest,
      private readonly fields: Fields,
    ) {
      fields.owner = this.owner
    }

    /** the request of a call that ended is gone (an instance kept for reuse may still hold it) */
    private get live(): InvokeRequest {
      if (this.owner.ended) throw new Error('incoming-request used after its call ended')
      return this.req
    }

    method(): Method {
      return methodOf(this.live.method)
    }
    pathWithQuery(): string {
      const req = this.live
      return req.query ? `${req.path}?${req.query}` : req.path
    }
    scheme(): Scheme {
      return { tag: 'HTTP' }
    }
    authority(): string | undefined {
      return this.live.headers.host
    }
    headers(): Fields {
      return this.fields.view()
    }
    consume(): IncomingBody {
      if (this.consumed || this.owner.ended) fail(undefined)
      this.consumed = true
      return new IncomingBody(this.req.body, this.owner)
    }
  }

  class OutgoingBody {
    private writer: OutputStream | undefined
    constructor(readonly sink: OutputBuffer) {}

    write(): OutputStream {
      if (this.writer) fail(undefined)
      this.writer = new OutputStream(call(), this.sink)
      return this.writer
    }

    static finish(body: OutgoingBody, _trailers: Fields | undefined): void {
      if (body.writer) body.writer.closed = true
    }
  }

  class OutgoingResponse {
    status = 200
    private bodyTaken = false
    readonly sink = new OutputBuffer(call().maxBodyBytes)
    constructor(readonly fields: Fields) {}

    statusCode(): number {
      return this.status
    }
    setStatusCode(code: number): void {
      if (code < 100 || code > 599) fail(undefined)
      this.status = code
    }
    headers(): Fields {
      return this.fields.view()
    }
    body(): OutgoingBody {
      if (this.bodyTaken) fail(undefined)
      this.bodyTaken = true
      return new OutgoingBody(this.sink)
    }
  }

  class ResponseOutparam {
    constructor(readonly slot: ResponseSlot) {}

    static set(param: ResponseOutparam, response: Result<OutgoingResponse, ErrorCode>): void {
      if (param.slot.value) throw new Error('response-outparam.set called twice')
      param.slot.value = response.tag === 'ok'
        ? ok({ status: response.val.status, headers: response.val.fields.entries(), body: response.val.sink })
        : response
    }
  }

  // The outgoing side: requests can be built, never sent.
  class OutgoingRequest {
    private m: Method = { tag: 'get' }
    private path: string | undefined
    private sch: Scheme | undefined
    private auth: string | undefined
    private bodyTaken = false
    /** what the guest wrote to the body, sent by outgoing-handler.handle */
    sink: OutputBuffer | undefined
    constructor(readonly fields: Fields) {}

    body(): OutgoingBody {
      if (this.bodyTaken) fail(undefined)
      this.bodyTaken = true
      this.sink = new OutputBuffer(call().maxBodyBytes)
      return new OutgoingBody(this.sink)
    }
    method(): Method {
      return this.m
    }
    setMethod(m: Method): void {
      this.m = m
    }
    pathWithQuery(): string | undefined {
      return this.path
    }
    setPathWithQuery(p: string | undefined): void {
      this.path = p
    }
    scheme(): Scheme | undefined {
      return this.sch
    }
    setScheme(s: Scheme | undefined): void {
      this.sch = s
    }
    authority(): string | undefined {
      return this.auth
    }
    setAuthority(a: string | undefined): void {
      this.auth = a
    }
    headers(): Fields {
      return this.fields.view()
    }
  }

  class RequestOptions {
    private t: Record<string, bigint | undefined> = {}
    connectTimeout(): bigint | undefined {
      return this.t.connect
    }
    setConnectTimeout(d: bigint | undefined): void {
      this.t.connect = d
    }
    firstByteTimeout(): bigint | undefined {
      return this.t.firstByte
    }
    setFirstByteTimeout(d: bigint | undefined): void {
      this.t.firstByte = d
    }
    betweenBytesTimeout(): bigint | undefined {
      return this.t.betweenBytes
    }
    setBetweenBytesTimeout(d: bigint | undefined): void {
      this.t.betweenBytes = d
    }
  }

  // outbound HTTP (issue 13 item 1): the response of an outgoing request, read whole already
  class IncomingResponse {
    private consumed = false
    private readonly owner = call()
    constructor(
      private readonly code: number,
      private readonly fields: Fields,
      private readonly bytes: Uint8Array,
    ) {
      fields.owner = this.owner
    }
    status(): number {
      return this.code
    }
    headers(): Fields {
      return this.fields.view()
    }
    consume(): IncomingBody {
      if (this.consumed) fail(undefined)
      this.consumed = true
      return new IncomingBody(this.bytes, this.owner)
    }
  }

  /** handle() waits for the response itself (a blocking host call), so the future is always ready */
  class FutureIncomingResponse {
    private taken = false
    constructor(private readonly value: Result<IncomingResponse, ErrorCode>) {}
    subscribe(): Pollable {
      return new Pollable(call())
    }
    get(): Result<Result<IncomingResponse, ErrorCode>, undefined> | undefined {
      if (this.taken) return { tag: 'err', val: undefined }
      this.taken = true
      return ok(this.value)
    }
  }

  const ERROR_TAGS: Record<Exclude<OutboundErrorName, 'TIMEOUT'>, string> = {
    DENIED: 'HTTP-request-denied',
    BAD_ARGUMENTS: 'HTTP-request-method-invalid',
    INVALID_URL: 'HTTP-request-URI-invalid',
    TOO_LARGE: 'HTTP-response-body-size',
    FAILED: 'internal-error',
    REQUEST_TOO_LARGE: 'HTTP-request-body-size',
  }

  function handle(request: OutgoingRequest): FutureIncomingResponse {
    const c = call()
    if (!c.outbound || c.outbound.patterns.length === 0) fail({ tag: 'HTTP-request-denied' } satisfies ErrorCode)
    const scheme = request.scheme() ?? { tag: 'HTTPS' }
    const proto = scheme.tag === 'HTTP' ? 'http' : scheme.tag === 'HTTPS' ? 'https' : (scheme as { val: string }).val
    const m = request.method()
    const url = `${proto}://${request.authority() ?? ''}${request.pathWithQuery() ?? '/'}`
    const headers = request.fields.entries().map(([k, v]) => [k, Buffer.from(v).toString('latin1')] as [string, string])
    const body = request.sink ? request.sink.toBuffer() : new Uint8Array(0)
    const res = blockingOutbound({ method: m.tag === 'other' ? m.val! : m.tag.toUpperCase(), url, headers, body }, { patterns: c.outbound.patterns, maxResponseBytes: c.outbound.maxResponseBytes, ...(c.outbound.maxRequestBytes === undefined ? {} : { maxRequestBytes: c.outbound.maxRequestBytes }), deadline: c.deadline }, c.check ?? (() => {}), c.trace)
    if (!res.ok) {
      if (res.error === 'TIMEOUT') throw new DeadlineError()
      return new FutureIncomingResponse({ tag: 'err', val: { tag: ERROR_TAGS[res.error], ...(res.error === 'FAILED' ? { val: res.message } : {}) } })
    }
    const fields = new Fields(Object.entries(res.headers).map(([k, v]) => [k, Buffer.from(v, 'latin1')]))
    fields.immutable = true
    return new FutureIncomingResponse(ok(new IncomingResponse(res.status, fields, res.body)))
  }

  return {
    imports: {
      types: {
        Fields, IncomingRequest, IncomingBody, FutureTrailers, OutgoingResponse, OutgoingBody, ResponseOutparam,
        OutgoingRequest, RequestOptions, IncomingResponse, FutureIncomingResponse,
        httpErrorCode: (): ErrorCode | undefined => undefined,
      },
      outgoingHandler: {
        handle,
      },
    },
    incomingRequest(req) {
      const fields = new Fields(Object.entries(req.headers).map(([k, v]) => [k, Buffer.from(v, 'latin1')]))
      fields.immutable = true
      return new IncomingRequest(req, fields)
    },
    responseOutparam() {
      const slot: ResponseSlot = {}
      return { param: new ResponseOutparam(slot), slot }
    },
  }
}
