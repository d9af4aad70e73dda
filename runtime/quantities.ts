// Kubernetes resource quantities ("128Mi", "500m") and Go durations ("30s", "1m30s") as
// OpenFaaS deployments and watchdog variables use them.

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }
const DECIMAL: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 }

/** Bytes from a memory quantity; undefined when it does not parse. */
export function parseMemoryQuantity(q: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i|[kKMGT])?\s*$/.exec(q)
  if (!m) return undefined
  const n = Number(m[1])
  const unit = m[2] ?? ''
  const mul = BINARY[unit] ?? DECIMAL[unit]
  if (mul === undefined) return undefined
  return Math.floor(n * mul)
}

/** Cores from a cpu quantity ("500m" = 0.5, "2" = 2); undefined when it does not parse. */
export function parseCpuQuantity(q: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)(m)?\s*$/.exec(q)
  if (!m) return undefined
  return m[2] ? Number(m[1]) / 1000 : Number(m[1])
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Milliseconds from a Go duration ("1m30s", "500ms") or a bare number of seconds (the watchdogs
 * accept both); undefined when it does not parse.
 */
export function parseDurationMs(d: string): number | undefined {
  const s = d.trim()
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) return undefined
  let total = 0
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!
  return total
}
