// Summary statistics for benchmark samples: median and p99 by nearest rank (a value that was
// actually measured, never an interpolation), and a bootstrap confidence interval for the median.

/** Seeded PRNG (mulberry32), so that confidence intervals are reproducible for the same samples. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Nearest-rank percentile of sorted values: the smallest value with at least p% of samples at or below it. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return NaN
  if (p <= 0) return sorted[0]!
  const rank = Math.ceil((p / 100) * n)
  return sorted[Math.min(n, Math.max(1, rank)) - 1]!
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values as ArrayLike<number>).sort()
}

export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileSorted(sortedCopy(values), p)
}

/** Median as the nearest-rank 50th percentile (for an even n, the lower of the two middle values). */
export function median(values: ArrayLike<number>): number {
  return percentile(values, 50)
}

export function mean(values: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < values.length; i++) s += values[i]!
  return values.length ? s / values.length : NaN
}

/** k-th smallest (0-based) in place, O(n) on average. */
function select(a: Float64Array, k: number): number {
  let lo = 0
  let hi = a.length - 1
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!
    let i = lo
    let j = hi
    while (i <= j) {
      while (a[i]! < pivot) i++
      while (a[j]! > pivot) j--
      if (i <= j) {
        const t = a[i]!
        a[i] = a[j]!
        a[j] = t
        i++
        j--
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else return a[k]!
  }
  return a[k]!
}

function medianInPlace(a: Float64Array): number {
  return select(a, Math.max(1, Math.ceil(a.length / 2)) - 1)
}

export interface BootstrapOptions {
  /** resamples (default 400) */
  iterations?: number
  /** coverage, default 0.95 */
  level?: number
  seed?: number
}

/**
 * Percentile-bootstrap confidence interval of the median. With `blocks` (the samples of each
 * repeated batch), whole batches are resampled, so drift between batches on a noisy machine
 * widens the interval instead of being averaged away; otherwise single samples are resampled.
 */
export function bootstrapMedianCI(samples: ArrayLike<number>, opts: BootstrapOptions & { blocks?: ArrayLike<number>[] } = {}): [number, number] {
  const n = samples.length
  if (n === 0) return [NaN, NaN]
  if (n === 1) return [samples[0]!, samples[0]!]
  const iterations = opts.iterations ?? 400
  const level = opts.level ?? 0.95
  const rand = prng(opts.seed ?? 0x5eed ^ n)
  const blocks = opts.blocks && opts.blocks.length > 1 ? opts.blocks : undefined
  const medians = new Float64Array(iterations)
  const buf = new Float64Array(n * (blocks ? 2 : 1))
  for (let it = 0; it < iterations; it++) {
    let m = 0
    if (blocks) {
      // resample as many blocks as there are: the total size varies a little with unequal blocks
      for (let b = 0; b < blocks.length; b++) {
        const blk = blocks[Math.floor(rand() * blocks.length)]!
        for (let i = 0; i < blk.length && m < buf.length; i++) buf[m++] = blk[i]!
      }
    } else {
      for (let i = 0; i < n; i++) buf[m++] = samples[Math.floor(rand() * n)]!
    }
    medians[it] = medianInPlace(buf.subarray(0, m))
  }
  medians.sort()
  const alpha = (1 - level) / 2
  return [percentileSorted(medians, alpha * 100), percentileSorted(medians, (1 - alpha) * 100)]
}

export interface Summary {
  n: number
  p50: number
  p99: number
  mean: number
  min: number
  max: number
  /** 95% bootstrap interval of the median */
  ci95: [number, number]
}

export function summarize(samples: ArrayLike<number>, blocks?: ArrayLike<number>[]): Summary {
  const s = sortedCopy(samples)
  const n = s.length
  return {
    n,
    p50: percentileSorted(s, 50),
    p99: percentileSorted(s, 99),
    mean: mean(s),
    min: n ? s[0]! : NaN,
    max: n ? s[n - 1]! : NaN,
    ci95: bootstrapMedianCI(s, { blocks }),
  }
}

/** Fisher-Yates shuffle with a seeded PRNG: interleaves benchmark cases in a random but repeatable order. */
export function shuffled<T>(items: readonly T[], rand: () => number = Math.random): T[] {
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}
