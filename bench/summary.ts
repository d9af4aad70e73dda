// Turns a run's JSON (bench/results/*.json) into the Markdown tables README.md shows: per scope the
// rows without their phase breakdown (--phases keeps them) and the targets with their verdicts.
//   node dist/bench/summary.js bench/results/all-latest.json [--compact | --phases] [--scope coldstart,load]
// --compact is the README's view: the targets, then one line per tier and function, per case, per rate.
import fs from 'node:fs'
import { pathToFileURL } from 'node:url'
import { environmentLine } from './lib/env.js'
import type { RunRecord } from './lib/results.js'
import type { Row, ScopeResult } from './lib/scope.js'
import { fmt, missBy } from './lib/table.js'
import { churnTable, coldstartTable, loadTable, rowsTable, targetsTable } from './lib/compact.js'

function mdTable(header: string[], lines: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|')
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...lines.map((l) => `| ${l.map(esc).join(' | ')} |`)].join('\n')
}

function rowLine(r: Row): string[] {
  const ci = r.ci95 && r.n > 1 ? `${fmt(r.ci95[0], r.unit)}–${fmt(r.ci95[1], r.unit)}` : ''
  const ratio = r.ratio !== undefined && Number.isFinite(r.ratio) ? `${fmt(r.ratio)}x` : ''
  return [r.group, r.name.trim(), String(r.n), fmt(r.p50, r.unit), fmt(r.p99, r.unit), ci, r.unit, ratio]
}

export function scopeMarkdown(s: ScopeResult, phases: boolean): string {
  const out = [`### ${s.scope}${s.status === 'ok' ? '' : ` (${s.status}${s.reason ? `: ${s.reason.split('\n')[0]}` : ''})`}`]
  const rows = s.rows.filter((r) => phases || !r.name.startsWith('  '))
  if (rows.length) out.push('', mdTable(['group', 'measurement', 'n', 'p50', 'p99', '95% CI of p50', 'unit', 'x floor'], rows.map(rowLine)))
  if (s.targets.length) {
    out.push('', mdTable(['target', 'measured', 'limit', 'verdict'], s.targets.map((t) => [t.text, `${fmt(t.value, t.unit)} ${t.unit}`, `${t.op} ${fmt(t.limit, t.unit)} ${t.unit}`, t.holds ? 'holds' : `**missed** by ${missBy(t)}`])))
  }
  if (s.text) out.push('', '```', s.text, '```')
  return out.join('\n')
}

export function runMarkdown(rec: RunRecord, opts: { phases?: boolean; scopes?: string[] } = {}): string {
  const scopes = rec.scopes.filter((s) => !opts.scopes || opts.scopes.includes(s.scope))
  return [`Command: \`${rec.environment.command}\` (${rec.environment.date}, ${Math.round(rec.seconds / 60)} min)`, '', environmentLine(rec.environment), '', ...scopes.map((s) => scopeMarkdown(s, opts.phases ?? false) + '\n')].join('\n')
}

/** The README view: every target, then one compact table per scope. */
export function compactMarkdown(rec: RunRecord): string {
  const by = (n: string) => rec.scopes.find((s) => s.scope === n && s.rows.length)
  const out = [`Command: \`${rec.environment.command}\` (${rec.environment.date.slice(0, 16).replace('T', ' ')} UTC, ${Math.round(rec.seconds / 60)} min)`, '', environmentLine(rec.environment), '', '#### Targets', '', targetsTable(rec.scopes)]
  const cs = by('coldstart')
  if (cs) out.push('', '#### coldstart', '', coldstartTable(cs))
  const load = by('load')
  if (load) out.push('', '#### load (autocannon, 5 s per run, median of 3 rounds)', '', loadTable(load))
  const dens = by('density')
  if (dens) out.push('', '#### density', '', rowsTable(dens, (r) => !/hosts total|empty app host/.test(r.name)))
  const churn = by('churn')
  if (churn) out.push('', '#### churn (open loop, every request needs a new sandbox)', '', churnTable(churn))
  const chain = by('chain')
  if (chain) out.push('', '#### chain', '', rowsTable(chain))
  for (const s of rec.scopes) if (s.status !== 'ok') out.push('', `${s.scope}: ${s.status}${s.reason ? ` (${s.reason.split('\n')[0]})` : ''}`)
  return out.join('\n') + '\n'
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2]
  if (!file) {
    process.stderr.write('usage: node dist/bench/summary.js <bench/results/...json> [--phases] [--scope a,b]\n')
    process.exit(2)
  }
  const i = process.argv.indexOf('--scope')
  const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord
  process.stdout.write(process.argv.includes('--compact') ? compactMarkdown(rec) : runMarkdown(rec, { phases: process.argv.includes('--phases'), scopes: i > 0 ? process.argv[i + 1]?.split(',') : undefined }))
}
