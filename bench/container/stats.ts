// Summary statistics for the benchmark: median and nearest-rank p99, as containers.md reports them.
export interface Summary {
  n: number
  median: number
  p99: number
  min: number
  max: number
  mean: number
}

export function summarise(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return { n: 0, median: NaN, p99: NaN, min: NaN, max: NaN, mean: NaN }
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
  const p99 = s[Math.min(n - 1, Math.ceil(0.99 * n) - 1)]!
  return { n, median, p99, min: s[0]!, max: s[n - 1]!, mean: s.reduce((a, b) => a + b, 0) / n }
}

/** Fisher-Yates: the order cases run in within one iteration. */
export function shuffle<T>(a: T[]): T[] {
  const out = [...a]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
