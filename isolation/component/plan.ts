// What a process needs to run one prepared component: plain data, so it travels by message to app
// hosts. The files live in the transpile cache of the data dir.
import type { StateMode } from '../tier.js'
import type { PlannedPreopen } from '../wasm/wasi-fs.js'
import type { OutboundPlan } from '../wasm/host/outbound.js'
import type { KvPlan } from '../wasm/host/kv-imports.js'

export interface ComponentPlan {
  key: string
  version: string
  functionName: string
  envVars: Record<string, string>
  stateMode: StateMode
  prewarm: boolean
  /** absolute path of jco's instantiate() module */
  jsPath: string
  /** core module name (as the bindings ask for it) -> absolute path of the bytes to compile */
  coreModules: Record<string, string>
  /** the versioned name of the handler export, e.g. wasi:http/incoming-handler@0.2.0 */
  handlerExport: string
  /** loop checks were compiled into every core module that has loops */
  interruptible: boolean
  fuel: number
  maxMemoryPages: number
  maxOutputBytes: number
  /** how long making an instance may run outside a call: the function's timeout */
  instantiateTimeoutMs?: number
  /** read-only directories the component sees through wasi:filesystem (secrets) */
  preopens: PlannedPreopen[]
  /** outbound HTTP grants (com.kindling.outbound) for wasi:http/outgoing-handler; absent or empty: none */
  outbound?: OutboundPlan
  /** stores granted by com.kindling.kv, for wasi:keyvalue; absent: none (open answers access-denied) */
  kv?: KvPlan
}
