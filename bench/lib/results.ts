// Writes a run's results under bench/results/: <label>-<timestamp>.json (environment + every
// scope's rows, targets and notes), .csv (one line per row and per target), .env.json and .txt
// (the printed report), each also copied to <label>-latest.* for scripts and the README.
import fs from 'node:fs'
import path from 'node:path'
import type { EnvironmentRecord } from './env.js'
import type { ScopeResult } from './scope.js'

export interface RunRecord {
  kind: 'kindling-bench'
  version: 1
  label: string
  quick: boolean
  environment: EnvironmentRecord
  scopes: ScopeResult[]
  seconds: number
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return ''
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(+v.toPrecision(6)) : '') : String(v)
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export const CSV_HEADER = ['scope', 'kind', 'group', 'name', 'unit', 'n', 'p50', 'p99', 'mean', 'min', 'max', 'ci95_low', 'ci95_high', 'baseline', 'ratio', 'limit', 'op', 'holds', 'note'] as const

export function toCsv(scopes: readonly ScopeResult[]): string {
  const lines = [CSV_HEADER.join(',')]
  for (const s of scopes) {
    for (const r of s.rows) {
      lines.push([s.scope, 'row', r.group, r.name, r.unit, r.n, r.p50, r.p99, r.mean, r.min, r.max, r.ci95?.[0], r.ci95?.[1], r.baseline, r.ratio, '', '', '', r.note].map(csvCell).join(','))
    }
    for (const t of s.targets) {
      lines.push([s.scope, 'target', t.id, t.text, t.unit, '', t.value, '', '', '', '', '', '', '', '', t.limit, t.op, t.holds, t.note].map(csvCell).join(','))
    }
    if (s.status !== 'ok') lines.push([s.scope, 'status', s.status, s.reason ?? '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', ''].map(csvCell).join(','))
  }
  return lines.join('\n') + '\n'
}

/** A file-name-safe UTC timestamp: 2026-11-22T04-18-16Z. */
export function timestamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
}

export interface WrittenFiles {
  json: string
  csv: string
  env: string
  text: string
}

export function writeResults(dir: string, record: RunRecord, report: string, when = new Date()): WrittenFiles {
  fs.mkdirSync(dir, { recursive: true })
  const base = `${record.label}-${timestamp(when)}`
  const files: WrittenFiles = {
    json: path.join(dir, `${base}.json`),
    csv: path.join(dir, `${base}.csv`),
    env: path.join(dir, `${base}.env.json`),
    text: path.join(dir, `${base}.txt`),
  }
  fs.writeFileSync(files.json, JSON.stringify(record, null, 2) + '\n')
  fs.writeFileSync(files.csv, toCsv(record.scopes))
  fs.writeFileSync(files.env, JSON.stringify(record.environment, null, 2) + '\n')
  fs.writeFileSync(files.text, report + '\n')
  for (const [ext, file] of [['json', files.json], ['csv', files.csv], ['env.json', files.env], ['txt', files.text]] as const) {
    fs.copyFileSync(file, path.join(dir, `${record.label}-latest.${ext}`))
  }
  return files
}
