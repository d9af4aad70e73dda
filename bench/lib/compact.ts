// Compact Markdown views of a run for README.md: one line per tier and function for coldstart,
// one per case for load, a rate-by-variant grid for churn. Built from the rows alone, so any
// run's JSON can be turned into the same tables.
import type { Row, ScopeResult } from './scope.js'
import { fmt, missBy } from './table.js'

function md(header: string[], lines: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|')
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...lines.map((l) => `| ${l.map(esc).join(' | ')} |`)].join('\n')
}

const v = (r: Row | undefined, withP99 = false) => (r ? `${fmt(r.p50, r.unit)}${withP99 && r.p99 !== undefined ? ` / ${fmt(r.p99, r.unit)}` : ''} ${r.unit}` : '')
const ratio = (r: Row | undefined) => (r?.ratio !== undefined && Number.isFinite(r.ratio) ? `${fmt(r.ratio)}x` : '')

function find(rows: readonly Row[], group: string, name: string): Row | undefined {
  return rows.find((r) => r.group === group && r.name === name)
}

export function coldstartTable(s: ScopeResult): string {
  const groups = [...new Set(s.rows.filter((r) => r.group !== 'floor').map((r) => r.group))]
  const lines = groups.map((g) => {
    const cold = find(s.rows, g, 'instance-cold in-process') ?? find(s.rows, g, 'instance-cold in-process (no spare)')
    const spare = find(s.rows, g, 'instance-cold in-process (spare ready)')
    const coldHttp = find(s.rows, g, 'instance-cold http')
    const floor = cold?.baseline ? s.rows.find((r) => `${r.group}|${r.name}` === cold.baseline) : undefined
    return [
      g,
      floor ? `${v(floor)} (${floor.name.replace(/^bare /, '').replace(/ \(same bundle\)$/, '')})` : '',
      v(find(s.rows, g, 'code-cold in-process')),
      v(find(s.rows, g, 'code-cold http')),
      `${v(cold, true)}${spare ? `; from a spare ${v(spare)}` : ''}`,
      ratio(cold),
      `${v(coldHttp, true)}`,
      ratio(coldHttp),
      v(find(s.rows, g, 'warm in-process'), true),
      v(find(s.rows, g, 'warm http'), true),
    ]
  })
  return md(['tier / function', 'floor p50', 'code-cold in-process', 'code-cold http', 'instance-cold in-process p50 / p99', 'x floor', 'instance-cold http p50 / p99', 'x floor', 'warm in-process p50 / p99', 'warm http p50 / p99'], lines)
}

export function loadTable(s: ScopeResult): string {
  const groups = [...new Set(s.rows.filter((r) => r.unit === 'req/s').map((r) => r.group))]
  const lines = groups.map((g) => {
    const one = find(s.rows, g, '1 conn: throughput')
    const fifty = find(s.rows, g, '50 conn: throughput')
    const lat = find(s.rows, g, '50 conn: latency')
    return [g, one ? `${fmt(one.p50, 'req/s')} (${ratio(one) || '1x'})` : '', fifty ? `${fmt(fifty.p50, 'req/s')} (${ratio(fifty) || '1x'})` : '', lat ? `${fmt(lat.p50)} / ${fmt(lat.p99)}` : '']
  })
  const ratios = s.rows.filter((r) => r.group.startsWith('ratios')).map((r) => [r.name, `${fmt(r.p50)}`, '', ''])
  return md(['case', '1 conn req/s (x fastify)', '50 conn req/s (x fastify)', '50 conn latency p50 / p99 ms'], [...lines, ...ratios])
}

export function churnTable(s: ScopeResult): string {
  const variants = [...new Set(s.rows.map((r) => r.group))]
  const rates = [...new Set(s.rows.map((r) => /^(\d+)\/s offered/.exec(r.name)?.[1]).filter((x): x is string => !!x))].sort((a, b) => Number(a) - Number(b))
  const lines = rates.map((rate) => [
    `${rate}/s`,
    ...variants.map((g) => {
      const lat = find(s.rows, g, `${rate}/s offered: latency`)
      const ach = find(s.rows, g, `${rate}/s offered: achieved`)
      return lat && ach ? `${fmt(ach.p50, 'req/s')}/s, ${fmt(lat.p50)} / ${fmt(lat.p99)} ms` : ''
    }),
  ])
  lines.push(['knee', ...variants.map((g) => {
    const k = s.rows.find((r) => r.group === g && r.name.startsWith('knee'))
    return k && Number.isFinite(k.p50) ? `**${fmt(k.p50, 'req/s')}/s**` : ''
  })])
  return md(['offered', ...variants.map((g) => `${g}: achieved, p50 / p99`)], lines)
}

export function rowsTable(s: ScopeResult, filter: (r: Row) => boolean = (r) => !r.name.startsWith('  ')): string {
  return md(['group', 'measurement', 'n', 'p50', 'p99', 'unit', 'x floor'], s.rows.filter(filter).map((r) => [r.group, r.name.trim(), String(r.n), fmt(r.p50, r.unit), fmt(r.p99, r.unit), r.unit, ratio(r)]))
}

export function targetsTable(scopes: readonly ScopeResult[]): string {
  const lines = scopes.flatMap((s) => s.targets.map((t) => [s.scope, t.text, `${fmt(t.value, t.unit)} ${t.unit}`, `${t.op} ${fmt(t.limit, t.unit)}`, t.holds ? 'holds' : `**missed** by ${missBy(t)}`]))
  return md(['scope', 'target', 'measured', 'limit', 'verdict'], lines)
}
