// The contract between the paper's runner (paper/run.ts) and each experiment. An experiment
// measures (run) and writes its part of the report (render) from what it measured, so that a
// report can be rendered again from paper/results.json without measuring anything.
import type { Progress } from '../../bench/lib/progress.js'
import type { ScopeResult, Unit } from '../../bench/lib/scope.js'
import type { EnvironmentRecord } from '../../bench/lib/env.js'

/** Where a measured row comes from: kindling's tiers, an OCI runtime or engine, a raw primitive, or the host without isolation. */
export type System = 'kindling' | 'container' | 'primitive' | 'host'

/** One measured quantity, as kept in results.json. */
export interface Measured {
  /** stable id that render() looks rows up by */
  key: string
  label: string
  system: System
  unit: Unit
  n: number
  p50: number
  p99?: number
  /** arithmetic mean of the samples (Faasm reports total elapsed / N, a mean) */
  mean?: number
  /** the median of this row in each repetition of the whole suite (full run: 3), in `unit` */
  runs?: number[]
  /** 95% confidence interval of the median from repeated rounds (bootstrap over whole rounds) */
  ci95?: [number, number]
  /** rounds (repeated runs) the samples come from */
  rounds?: number
  note?: string
}

export type ExperimentStatus = 'ok' | 'partial' | 'skipped' | 'failed'

export interface ExperimentData {
  id: string
  status: ExperimentStatus
  reason?: string
  rows: Measured[]
  /** data points for figures (curves), by series name */
  series?: Record<string, Record<string, number | string>[]>
  /** how it was measured this time: sample counts, rounds, what was timed */
  method: string[]
  notes: string[]
  /** cases that did not run here, with the reason */
  skipped: string[]
  seconds?: number
  loadAverage?: { before: number; after: number }
  /** the machine and commit it ran on (a rerun of one experiment keeps the others' lines) */
  machine?: string
}

export interface PaperContext {
  quick: boolean
  repoRoot: string
  /** dist/ (the runner and the app hosts run transpiled JavaScript) */
  distRoot: string
  /** scratch folder of this experiment, removed afterwards */
  workDir: string
  /** scratch folder of the whole run (shared measurements live here), removed at the end */
  sharedDir: string
  /** cleanup at the end of the run (after the last experiment) */
  atEnd(fn: () => Promise<unknown>): void
  options: Readonly<Record<string, string | boolean>>
  progress: Progress
  log(message: string): void
  /** a bench scope (bench/scopes or a folder's scope.ts), run once per set of options and shared between experiments */
  scope(name: string, options?: Record<string, string | boolean>): Promise<ScopeResult>
  /** a measurement shared by several experiments (the start-up mechanisms), made once */
  shared<T>(key: string, make: () => Promise<T>): Promise<T>
  shouldStop(): boolean
}

/** What render() returns: markdown, and figures as vega-lite specs (the runner writes them as SVG). */
export interface Section {
  markdown: string
  figures: { file: string; spec: Record<string, unknown>; caption: string }[]
}

export interface RenderContext {
  env: EnvironmentRecord
  /** the machine and commit, one line, for under every table */
  machine: string
  quick: boolean
  /** the command that reruns one experiment */
  rerun(id: string): string
}

export interface Experiment {
  id: string
  title: string
  /** the paper and part reproduced */
  origin: string
  run(ctx: PaperContext): Promise<ExperimentData>
  render(data: ExperimentData, r: RenderContext): Section
  /** false: run once even when the whole suite is repeated (the experiment repeats inside itself) */
  suiteRepeat?: boolean
  /** where kindling's result disagrees with the paper's claim, and why (for the report's summary) */
  disagreements?(data: ExperimentData): string[]
}

export function emptyData(id: string): ExperimentData {
  return { id, status: 'ok', rows: [], method: [], notes: [], skipped: [] }
}
