// `kindling usage [--since DURATION] [--namespace NS] [--json]`: what each function used (calls,
// wall and CPU time, GB-seconds, bytes), from GET /system/usage, as a table.
import { flag, type ParsedArgs } from './args.js'
import { expectOk, type GatewayClient } from './client.js'

export interface UsageEntry {
  name: string
  namespace: string
  invocations: number
  wallSeconds: number
  cpuSeconds: number
  cpuMeasuredInvocations: number
  gbSeconds: number
  bytesIn: number
  bytesOut: number
}

export async function usageCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const q = new URLSearchParams()
  const since = flag(args, 'since')
  const ns = flag(args, 'namespace')
  if (since) q.set('since', since)
  if (ns) q.set('namespace', ns)
  const res = await expectOk(await client.request('GET', `/system/usage${q.size ? `?${q}` : ''}`), 'reading usage')
  const body = (await res.json()) as { since: string | null; functions: UsageEntry[] }
  if (flag(args, 'json')) {
    process.stdout.write(JSON.stringify(body, null, 2) + '\n')
    return 0
  }
  process.stdout.write(usageTable(body.functions))
  return 0
}

/** Right-aligned numbers; CPU shows "-" when no call of the function could be measured. */
export function usageTable(fns: UsageEntry[]): string {
  const head = ['FUNCTION', 'CALLS', 'WALL s', 'CPU s', 'CPU CALLS', 'GB-s', 'IN', 'OUT']
  const rows = fns.map((f) => [
    f.namespace === 'openfaas-fn' ? f.name : `${f.name}.${f.namespace}`,
    String(f.invocations),
    f.wallSeconds.toFixed(3),
    f.cpuMeasuredInvocations ? f.cpuSeconds.toFixed(3) : '-',
    String(f.cpuMeasuredInvocations),
    f.gbSeconds.toFixed(3),
    bytes(f.bytesIn),
    bytes(f.bytesOut),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd() + '\n'
  return [head, ...rows].map(line).join('') + (fns.length ? '' : '(no calls in this span)\n')
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(1)} ${units[u]}`
}
