// `kindling top`: a live table of the functions, redrawn every interval, from the gateway's own API:
// requests per second (from invocationCount in GET /system/functions), p99 latency (from the
// gateway_functions_seconds histogram in /metrics, over the interval) and warm sandboxes (the
// com.kindling.sandboxes.* annotations). --once samples one interval, prints the table and exits.
import { flag, type ParsedArgs } from './args.js'
import { CliError, expectOk, type GatewayClient } from './client.js'

interface FunctionRow {
  name: string
  namespace: string
  invocationCount?: number
  annotations?: Record<string, string>
}

interface Sample {
  at: number
  functions: FunctionRow[]
  /** per function key (name.namespace): cumulative bucket counts by upper bound */
  buckets: Map<string, Map<number, number>>
}

/** Sums gateway_functions_seconds_bucket over the status codes, per function. */
export function parseLatencyBuckets(text: string): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>()
  const re = /^gateway_functions_seconds_bucket\{([^}]*)\} (\S+)$/gm
  for (const m of text.matchAll(re)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]))
    const fn = labels.function_name
    if (!fn || labels.le === undefined) continue
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le)
    const byLe = out.get(fn) ?? new Map<number, number>()
    byLe.set(le, (byLe.get(le) ?? 0) + Number(m[2]))
    out.set(fn, byLe)
  }
  return out
}

/** The upper bound of the bucket holding the q quantile of the calls between two samples. */
export function quantileOf(now: Map<number, number> | undefined, before: Map<number, number> | undefined, q: number): number | undefined {
  if (!now) return undefined
  const bounds = [...now.keys()].sort((a, b) => a - b)
  const delta = bounds.map((le) => (now.get(le) ?? 0) - (before?.get(le) ?? 0))
  const total = delta.at(-1) ?? 0
  if (total <= 0) return undefined
  const i = delta.findIndex((c) => c >= q * total)
  return bounds[i]
}

async function sample(client: GatewayClient): Promise<Sample> {
  const [fns, metrics] = await Promise.all([
    client.request('GET', '/system/functions').then((r) => expectOk(r, 'listing functions')),
    client.request('GET', '/metrics').then((r) => expectOk(r, 'reading /metrics')),
  ])
  return { at: performance.now(), functions: (await fns.json()) as FunctionRow[], buckets: parseLatencyBuckets(await metrics.text()) }
}

function formatSeconds(s: number | undefined): string {
  if (s === undefined) return '-'
  if (s === Infinity) return '>max'
  return s < 1 ? `${Math.round(s * 1000)}ms` : `${s.toFixed(1)}s`
}

export function topTable(before: Sample, now: Sample): string[][] {
  const seconds = Math.max((now.at - before.at) / 1000, 1e-3)
  const prev = new Map(before.functions.map((f) => [`${f.name}.${f.namespace}`, f]))
  return now.functions
    .map((f) => {
      const key = `${f.name}.${f.namespace}`
      const calls = (f.invocationCount ?? 0) - (prev.get(key)?.invocationCount ?? 0)
      const a = f.annotations ?? {}
      return [
        f.name,
        (Math.max(calls, 0) / seconds).toFixed(1),
        formatSeconds(quantileOf(now.buckets.get(key), before.buckets.get(key), 0.5)),
        formatSeconds(quantileOf(now.buckets.get(key), before.buckets.get(key), 0.99)),
        a['com.kindling.sandboxes.warm'] ?? '0',
        a['com.kindling.sandboxes.busy'] ?? '0',
        String(f.invocationCount ?? 0),
        a['com.kindling.tier'] ?? '',
      ]
    })
    .sort((x, y) => Number(y[1]) - Number(x[1]) || x[0]!.localeCompare(y[0]!))
}

export const TOP_HEAD = ['FUNCTION', 'RPS', 'P50', 'P99', 'WARM', 'BUSY', 'CALLS', 'TIER']

function render(rows: string[][]): string {
  const widths = TOP_HEAD.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) => r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd() + '\n'
  return line(TOP_HEAD) + rows.map(line).join('')
}

export async function topCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const interval = Number(flag(args, 'interval') ?? '2')
  if (!(interval > 0 && interval <= 3600)) throw new CliError(`--interval ${flag(args, 'interval')}: give seconds, more than 0 (e.g. --interval 1)`)
  let before = await sample(client)
  const once = !!flag(args, 'once')
  const tty = process.stdout.isTTY && !once
  for (;;) {
    await new Promise((r) => setTimeout(r, interval * 1000))
    const now = await sample(client)
    const rows = topTable(before, now)
    const title = `kindling top: ${client.url}, ${now.functions.length} function${now.functions.length === 1 ? '' : 's'}, over ${interval} s${once ? '' : ' (Ctrl-C quits)'}\n\n`
    // a terminal gets the table redrawn in place; a pipe gets one table after the other
    process.stdout.write((tty ? '\x1b[H\x1b[2J' : '') + title + render(rows) + (tty || once ? '' : '\n'))
    if (once) return 0
    before = now
  }
}
