// The contract between the runner (bench/run.ts) and every scope. A scope module exports
//
//   export async function run(ctx: ScopeContext): Promise<ScopeResult>
//
// and nothing runs at import time. The runner prints the rows as a table, checks nothing itself
// (each scope decides its targets from numbers measured in the same run), and writes JSON/CSV.

import type { Progress } from './progress.js'

export interface ScopeContext {
  /** the scope's name as given to --scope */
  scope: string
  /** small sample counts and short durations: the whole run stays under a minute */
  quick: boolean
  /** the kindling checkout */
  repoRoot: string
  /** where dist/ modules are (bench runs from there so that app hosts start without tsx) */
  distRoot: string
  /** bench/results */
  resultsDir: string
  /** a scratch folder for this run, removed afterwards */
  workDir: string
  /** every --flag of the command line that the runner did not consume, e.g. { n: '200', 'no-engines': true } */
  options: Readonly<Record<string, string | boolean>>
  progress: Progress
  /** a line for the reader (stderr, kept out of the table) */
  log(message: string): void
  /** the runner's clock says to hurry (quick mode ran out of its budget); scopes may stop early */
  shouldStop(): boolean
}

/** Units a value can have; times are always in microseconds or milliseconds, said in the unit. */
export type Unit = 'us' | 'ms' | 'req/s' | '/s' | 'KiB' | 'MiB' | 'count' | 'ratio' | 'percent'

/** One measured quantity: a line of the table and of the CSV. */
export interface Row {
  /** what was measured on: 'wasm / noop', 'floor', 'fastify raw' */
  group: string
  /** which measurement: 'instance-cold in-process', 'warm http 1 conn' */
  name: string
  unit: Unit
  n: number
  p50: number
  p99?: number
  mean?: number
  min?: number
  max?: number
  /** 95% interval of the median (bootstrap) */
  ci95?: [number, number]
  /** the floor or baseline this row is compared with, by `${group}|${name}` */
  baseline?: string
  /** p50 / baseline p50, measured in the same run */
  ratio?: number
  note?: string
}

export interface Target {
  /** short id: 'wasm-cold-2x' */
  id: string
  /** the target as the issue states it */
  text: string
  /** what was measured */
  value: number
  /** the bound */
  limit: number
  unit: Unit
  /** value must be at most (<=) or at least (>=) the limit */
  op: '<=' | '>='
  holds: boolean
  /** how it was measured, and why it misses when it does */
  note?: string
}

export type ScopeStatus = 'ok' | 'skipped' | 'not-available' | 'failed'

export interface ScopeResult {
  scope: string
  status: ScopeStatus
  /** why skipped, not available or failed */
  reason?: string
  rows: Row[]
  targets: Target[]
  /** lines printed under the table: skipped cases with their reasons, how things were measured */
  notes: string[]
  /** printed verbatim under the table (a stand-alone script's own output) */
  text?: string
  /** anything else worth keeping in the JSON (raw samples are not kept) */
  data?: Record<string, unknown>
  /** wall time of the scope, filled in by the runner */
  seconds?: number
  /** 1-minute load average of the machine before and after the scope, filled in by the runner */
  loadAverage?: { before: number; after: number }
}

export type ScopeRun = (ctx: ScopeContext) => Promise<ScopeResult>

/** Builds a target record; `holds` follows from the op. */
export function target(t: Omit<Target, 'holds'>): Target {
  const holds = Number.isFinite(t.value) && (t.op === '<=' ? t.value <= t.limit : t.value >= t.limit)
  return { ...t, holds }
}

export function emptyResult(scope: string, status: ScopeStatus, reason?: string): ScopeResult {
  return { scope, status, reason, rows: [], targets: [], notes: [] }
}
