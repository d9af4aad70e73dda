// Percentiles and the table of the tiers benchmark.

export interface Summary {
  n: number
  /** microseconds */
  p50: number
  p99: number
  mean: number
}

/** Summarises samples given in microseconds (nearest-rank percentiles). */
export function summarize(samplesUs: number[]): Summary {
  const s = [...samplesUs].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN
  return { n: s.length, p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) }
}

/** Runs `fn` n times and returns the wall time of each run in microseconds. */
export async function sample(n: number, fn: (i: number) => unknown | Promise<unknown>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await fn(i)
    out.push((performance.now() - t0) * 1000)
  }
  return out
}

/** µs as a short human figure: 31 µs, 1.25 ms, 81.0 ms. */
export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return '-'
  if (us < 1000) return `${us < 10 ? us.toFixed(1) : us.toFixed(0)} µs`
  if (us < 100_000) return `${(us / 1000).toFixed(2)} ms`
  return `${(us / 1000).toFixed(0)} ms`
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}
