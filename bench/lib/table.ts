// Plain-text tables of rows and targets, for the terminal and for README.md (the same text).
import type { Row, ScopeResult, Target, Unit } from './scope.js'

/** A number with as many digits as it deserves: 3 significant, no exponent. */
export function fmt(v: number | undefined, unit?: Unit): string {
  if (v === undefined || Number.isNaN(v)) return ''
  if (!Number.isFinite(v)) return String(v)
  if (unit === 'count' || unit === 'req/s' || unit === '/s') return Math.round(v).toLocaleString('en-US')
  const a = Math.abs(v)
  if (a >= 1000) return Math.round(v).toLocaleString('en-US')
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  if (a === 0) return '0'
  return v.toPrecision(2)
}

function ratioText(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '' : `${fmt(r)}x`
}

export function renderTable(header: string[], lines: string[][], align: ('l' | 'r')[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)))
  const pad = (cells: string[]) => cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [pad(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(pad)].join('\n')
}

export function rowsTable(rows: readonly Row[]): string {
  const header = ['group', 'measurement', 'n', 'p50', 'p99', '95% CI of p50', 'unit', 'x floor', 'floor']
  const lines = rows.map((r) => [
    r.group,
    r.name,
    String(r.n),
    fmt(r.p50, r.unit),
    fmt(r.p99, r.unit),
    r.ci95 && r.n > 1 ? `${fmt(r.ci95[0], r.unit)}-${fmt(r.ci95[1], r.unit)}` : '',
    r.unit,
    ratioText(r.ratio),
    r.baseline ? r.baseline.replace('|', ': ') : '',
  ])
  return renderTable(header, lines, ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'r', 'l'])
}

export function targetsTable(targets: readonly Target[]): string {
  const header = ['target', 'measured', 'limit', 'verdict']
  const lines = targets.map((t) => [
    t.text,
    `${fmt(t.value, t.unit)} ${t.unit}`,
    `${t.op} ${fmt(t.limit, t.unit)} ${t.unit}`,
    t.holds ? 'holds' : Number.isFinite(t.value) ? `MISSED by ${missBy(t)}` : 'not measured',
  ])
  return renderTable(header, lines, ['l', 'r', 'r', 'l'])
}

/** How far a missed target is from its limit, as a factor. */
export function missBy(t: Target): string {
  if (t.holds || !Number.isFinite(t.value)) return ''
  const f = t.op === '<=' ? t.value / t.limit : t.limit / t.value
  return `${fmt(f)}x`
}

/** The whole report of one scope: heading, status, table, targets, notes. */
export function scopeReport(r: ScopeResult): string {
  const out: string[] = [`## ${r.scope}${r.status === 'ok' ? '' : `: ${r.status}${r.reason ? ` (${r.reason})` : ''}`}${r.seconds !== undefined ? `  [${r.seconds.toFixed(0)} s${r.loadAverage ? `, load ${r.loadAverage.before} -> ${r.loadAverage.after}` : ''}]` : ''}`]
  if (r.rows.length) out.push('', rowsTable(r.rows))
  if (r.targets.length) out.push('', targetsTable(r.targets))
  if (r.text) out.push('', r.text)
  const notes = [...r.notes, ...r.targets.filter((t) => t.note && !t.holds).map((t) => `${t.id}: ${t.note}`)]
  if (notes.length) out.push('', ...notes.map((n) => `- ${n}`))
  return out.join('\n')
}
