// Runs measurement cases interleaved: every round runs a batch of every case, in a shuffled order,
// so that background noise on a shared VM hits all cases alike and ratios taken within the run are
// fair. Each batch is kept as a block for the bootstrap interval.
import { summarize, shuffled, prng, type Summary } from './stats.js'
import type { Progress } from './progress.js'
import type { Row, Unit } from './scope.js'

/**
 * One occurrence: microseconds, plus named phases (also microseconds) when the tier reports them.
 * `excluded` drops the occurrence from the samples (it did not measure what the case measures,
 * e.g. a call meant to be cold that found a ready instance); the reasons are counted in a note.
 */
export type Sample = number | { us: number; parts?: Record<string, number | undefined>; excluded?: string }

export interface Case {
  group: string
  name: string
  /** samples per round */
  batch: number
  /** untimed occurrences before the first round */
  warmup?: number
  sample(): Promise<Sample>
  /** after each batch (e.g. check recorded timings); may return a note. warmup: after the untimed warm-up */
  afterBatch?(warmup: boolean): Promise<string | undefined>
  /** `${group}|${name}` of the floor this case is compared with */
  baseline?: string
}

export interface CaseResult {
  group: string
  name: string
  baseline?: string
  samples: number[]
  blocks: number[][]
  parts: Map<string, number[]>
  error?: string
  notes: string[]
}

/** Rejects when `p` takes longer than `ms`: one stuck sample must not hang the whole run. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${Math.round(ms / 1000)} s`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

export interface RunOptions {
  /** longest a single sample may take (default 60 s) */
  sampleTimeoutMs?: number
  seed?: number
  /** before every batch (untimed): e.g. wait for background work of the previous case to end */
  beforeBatch?: () => Promise<unknown>
}

export async function runInterleaved(cases: readonly Case[], rounds: number, progress: Progress, shouldStop: () => boolean, opts: RunOptions = {}): Promise<CaseResult[]> {
  const rand = prng(opts.seed ?? 42)
  const limit = opts.sampleTimeoutMs ?? 60_000
  let current = ''
  let since = Date.now()
  // a line every 30 s while one case runs long, so a stuck case is visible in a CI log
  const heartbeat = setInterval(() => {
    if (Date.now() - since > 30_000) progress.line(`still in ${current} (${Math.round((Date.now() - since) / 1000)} s)`)
  }, 30_000)
  heartbeat.unref()
  const sample = (c: Case) => {
    if (current !== `${c.group}: ${c.name}`) {
      current = `${c.group}: ${c.name}`
      since = Date.now()
    }
    return withTimeout(c.sample(), limit, current)
  }
  const results = new Map<Case, CaseResult>()
  const excluded = new Map<Case, Map<string, number>>()
  for (const c of cases) results.set(c, { group: c.group, name: c.name, baseline: c.baseline, samples: [], blocks: [], parts: new Map(), notes: [] })
  const fail = (c: Case, e: unknown) => {
    const r = results.get(c)!
    r.error = e instanceof Error ? e.message : String(e)
    progress.line(`${c.group}: ${c.name} failed: ${r.error.split('\n')[0]}`)
  }
  progress.step('warm-up')
  for (const [i, c] of cases.entries()) {
    try {
      for (let w = 0; w < (c.warmup ?? Math.min(c.batch, 20)); w++) await sample(c)
      if (c.afterBatch) await c.afterBatch(true)
    } catch (e) {
      fail(c, e)
    }
    progress.tick(i + 1, cases.length)
  }
  for (let round = 0; round < rounds; round++) {
    if (round > 0 && shouldStop()) {
      progress.line(`stopping after ${round} of ${rounds} rounds (time budget)`)
      break
    }
    progress.step(`round ${round + 1}/${rounds}`)
    const order = shuffled(cases, rand)
    for (const [i, c] of order.entries()) {
      const r = results.get(c)!
      if (r.error) continue
      const block: number[] = []
      try {
        if (opts.beforeBatch) await opts.beforeBatch()
        for (let s = 0; s < c.batch; s++) {
          const v = await sample(c)
          if (typeof v === 'number') block.push(v)
          else if (v.excluded) {
            const m = excluded.get(c) ?? excluded.set(c, new Map()).get(c)!
            m.set(v.excluded, (m.get(v.excluded) ?? 0) + 1)
          } else {
            block.push(v.us)
            for (const [k, pv] of Object.entries(v.parts ?? {})) {
              if (pv === undefined) continue
              let arr = r.parts.get(k)
              if (!arr) r.parts.set(k, (arr = []))
              arr.push(pv)
            }
          }
        }
        const note = c.afterBatch ? await c.afterBatch(false) : undefined
        if (note && !r.notes.includes(note)) r.notes.push(note)
      } catch (e) {
        fail(c, e)
        continue
      }
      r.samples.push(...block)
      r.blocks.push(block)
      progress.tick(i + 1, order.length, `${c.group}: ${c.name}`)
    }
  }
  clearInterval(heartbeat)
  for (const [c, m] of excluded) {
    const r = results.get(c)!
    for (const [why, n] of m) r.notes.push(`${n} of ${n + r.samples.length} occurrences excluded: ${why}`)
  }
  return [...results.values()]
}

/** Microseconds, shown in ms once the median reaches 10 ms. */
export function timeRow(group: string, name: string, samplesUs: readonly number[], blocks?: readonly number[][], extra: Partial<Row> = {}): Row {
  const s: Summary = summarize(samplesUs, blocks as number[][] | undefined)
  const unit: Unit = s.p50 >= 10_000 ? 'ms' : 'us'
  const k = unit === 'ms' ? 1 / 1000 : 1
  return {
    group,
    name,
    unit,
    n: s.n,
    p50: s.p50 * k,
    p99: s.p99 * k,
    mean: s.mean * k,
    min: s.min * k,
    max: s.max * k,
    ci95: [s.ci95[0] * k, s.ci95[1] * k],
    ...extra,
  }
}

/** The median of a row in microseconds, whatever unit it is shown in. */
export function p50Us(r: Row): number {
  return r.unit === 'ms' ? r.p50 * 1000 : r.p50
}

/** Rows for a case: its total, then one indented row per phase. */
export function caseRows(r: CaseResult, phaseOrder: readonly string[] = []): Row[] {
  if (r.samples.length === 0) return []
  const rows = [timeRow(r.group, r.name, r.samples, r.blocks, { baseline: r.baseline })]
  const keys = [...r.parts.keys()].sort((a, b) => (phaseOrder.indexOf(a) + 1 || 99) - (phaseOrder.indexOf(b) + 1 || 99))
  for (const k of keys) rows.push(timeRow(r.group, `  ${k}`, r.parts.get(k)!))
  return rows
}

/** Fills in ratio = p50 / baseline p50 for every row whose baseline is among the rows. */
export function applyBaselines(rows: Row[]): void {
  const byKey = new Map(rows.map((r) => [`${r.group}|${r.name}`, r]))
  for (const r of rows) {
    if (!r.baseline) continue
    const b = byKey.get(r.baseline)
    if (b) r.ratio = p50Us(r) / p50Us(b)
  }
}
