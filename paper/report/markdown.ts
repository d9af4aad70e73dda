// Markdown pieces of the report: numbers with their units, measured values with their interval,
// ratios, and tables.
import type { Measured } from '../experiments/types.js'

/** 3 significant digits, no exponent. */
export function num(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–'
  const a = Math.abs(v)
  if (a >= 100_000) return Math.round(v).toLocaleString('en-US')
  if (a >= 100) return Math.round(v).toLocaleString('en-US')
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  if (a === 0) return '0'
  return v.toPrecision(2)
}

/** A time in microseconds, in the unit that reads best. */
export function time(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return '–'
  if (us >= 1e6) return `${num(us / 1e6)} s`
  if (us >= 1000) return `${num(us / 1000)} ms`
  return `${num(us)} µs`
}

/** Microseconds of a row whose unit is a time. */
export function us(m: Pick<Measured, 'unit' | 'p50'>, v = m.p50): number {
  return m.unit === 'ms' ? v * 1000 : v
}

/** A row's median in its own unit (times in the unit that reads best). */
export function value(m: Measured, v = m.p50): string {
  if (m.unit === 'us' || m.unit === 'ms') return time(us(m, v))
  const unit = m.unit === 'count' ? '' : m.unit === 'ratio' ? 'x' : m.unit === 'percent' ? '%' : ` ${m.unit}`
  return `${num(v)}${unit}`
}

/** "median [95% CI] (p99 …)" of a measured row. */
export function measured(m: Measured | undefined): string {
  if (!m) return 'not measured'
  const ci = m.ci95 && m.n > 1 && Number.isFinite(m.ci95[0]) ? ` [${value(m, m.ci95[0])}–${value(m, m.ci95[1])}]` : ''
  const p99 = m.p99 !== undefined && m.n > 1 ? `, p99 ${value(m, m.p99)}` : ''
  const runs = m.runs && m.runs.length > 1 ? `; runs ${value(m, Math.min(...m.runs))}–${value(m, Math.max(...m.runs))}` : ''
  return `**${value(m)}**${ci}${p99}${runs}`
}

export function ratio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return '–'
  return `${num(r)}x`
}

/** A markdown table; cells are escaped for pipes. */
export function mdTable(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const sep = header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'))
  return [`| ${header.map(esc).join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n')
}

export function find(rows: readonly Measured[], key: string): Measured | undefined {
  return rows.find((r) => r.key === key)
}

/** p50 of a over p50 of b, both times (or both the same unit). */
export function ratioOf(a: Measured | undefined, b: Measured | undefined): number | undefined {
  if (!a || !b) return undefined
  const x = a.unit === 'us' || a.unit === 'ms' ? us(a) : a.p50
  const y = b.unit === 'us' || b.unit === 'ms' ? us(b) : b.p50
  return y > 0 ? x / y : undefined
}
