// What a process needs to run one prepared WebAssembly function: everything here is plain data, so
// the plan travels by message to app hosts and worker threads beside the instrumented bytes.
import type { ResetMode, StateMode, WasmFormat } from '../tier.js'
import type { PlannedPreopen } from './wasi-fs.js'
import type { KvPlan } from './host/kv-imports.js'
import type { OutboundPlan } from './host/outbound.js'

export interface WasmPlan {
  key: string
  version: string
  format: Exclude<WasmFormat, 'component'>
  functionName: string
  /** argv of a WASI command: argv[0] is the function name unless envProcess says otherwise */
  argv: string[]
  envVars: Record<string, string>
  stateMode: StateMode
  resetMode: ResetMode
  prewarm: boolean
  /** loop checks were compiled in */
  interruptible: boolean
  fuel: number
  /** exported mutable globals to save and restore */
  stateGlobals: string[]
  memoryExport?: string
  importedMemory?: { module: string; field: string; initial: number; maximum: number }
  maxMemoryPages: number
  /** restoring memory and globals gives a clean instance */
  snapshotSafe: boolean
  maxOutputBytes: number
  /** how long making an instance (its start function) may run outside a call: the function's timeout */
  instantiateTimeoutMs?: number
  /** read-only directories the function sees through WASI (secrets) */
  preopens: PlannedPreopen[]
  // key-value state and variables (issue 13, items 2-3)
  /** stores granted by com.kindling.kv; none: kv_open answers NOT_GRANTED */
  kv?: KvPlan
  /** variables granted by com.kindling.variables, resolved (null: no value); never logged */
  variables?: Record<string, string | null>
  /** outbound HTTP grants (com.kindling.outbound); absent or empty: every request refused */
  outbound?: OutboundPlan
}

/** Where the instrumented module of a plan lives, and its plan. */
export interface PlanWithModule {
  plan: WasmPlan
  /** absolute path of the instrumented module bytes */
  modulePath: string
}
