// The imports object of one component sandbox: every interface in GRANTED_INTERFACES and KEYVALUE_INTERFACES, keyed the
// way jco's instantiate() looks them up (name without version, one implementation for all 0.2.x).
// It is built once per sandbox; `begin` installs the next call's context.
import type { Preopen } from '../../wasm/wasi-fs.js'
import { filesystemImports } from './filesystem.js'
import { createHttpHost, type HttpCall, type HttpHost } from './http.js'
import { InputStream, IoError, OutputStream, Pollable, poll } from './io.js'
import type { KvPlan } from '../../wasm/host/kv-imports.js'
import { keyvalueImports } from './keyvalue.js'
import { type SystemCall, systemImports } from './system.js'

export interface HostCall extends HttpCall, SystemCall {}

export class ComponentHost {
  readonly imports: Record<string, Record<string, unknown>>
  readonly http: HttpHost
  private current: HostCall | undefined

  /** preopens: read-only directories the component sees (the deployment's secrets); kv: its granted stores */
  constructor(preopens: readonly Preopen[] = [], kv?: KvPlan) {
    const call = (): HostCall => {
      if (!this.current) throw new Error('the component called the host outside of a call')
      return this.current
    }
    this.http = createHttpHost(call)
    this.imports = {
      'wasi:io/error': { Error: IoError },
      'wasi:io/poll': { Pollable, poll },
      'wasi:io/streams': { InputStream, OutputStream },
      'wasi:http/types': this.http.imports.types,
      'wasi:http/outgoing-handler': this.http.imports.outgoingHandler,
      ...systemImports(call),
      ...filesystemImports(preopens, call),
      ...keyvalueImports(kv),
    }
  }

  begin(call: HostCall): void {
    this.current = call
  }

  /** Ends the call: its request, body, header fields and streams stop working, in reuse mode too. */
  end(): void {
    if (this.current) this.current.ended = true
    this.current = undefined
  }
}
