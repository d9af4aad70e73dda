// The latest benchmark runs (GET /system/bench): per scope and group, the p50 of each measurement
// as a bar, beside the floor it is compared with (cold start per tier against bare instantiate,
// Worker spawn, fork, crun), then the targets with whether they hold. Peers' rows chart the same way.
import { getJson } from '../api.js'
import { type Bar, barChart } from '../charts.js'
import { fill, h } from '../dom.js'
import { describeError } from '../live.js'

interface Row { group: string; name: string; unit: string; n: number; p50: number; p99?: number; baseline?: string; ratio?: number; note?: string }
interface Target { id: string; text: string; value: number; limit: number; unit: string; op: string; holds: boolean; note?: string }
interface Scope { scope: string; status: string; reason?: string; rows: Row[]; targets: Target[]; seconds?: number }
interface Run { label: string; quick: boolean; date: string | null; command: string | null; cpu: string | null; commit: string | null; seconds: number; scopes: Scope[] }

const TO_MS: Record<string, number> = { us: 0.001, ms: 1 }

/** Bars of one group's top-level rows (indented rows are a row's parts), one chart per unit kind. */
export function groupCharts(scope: Scope, group: string): { unit: string; bars: Bar[] }[] {
  const byKey = new Map(scope.rows.map((r) => [`${r.group}|${r.name}`, r]))
  const charts = new Map<string, Bar[]>()
  for (const r of scope.rows) {
    if (r.group !== group || /^\s/.test(r.name) || !Number.isFinite(r.p50)) continue
    const unit = r.unit in TO_MS ? 'ms' : r.unit
    const scale = TO_MS[r.unit] ?? 1
    const bar: Bar = { label: r.name, value: r.p50 * scale }
    const base = r.baseline ? byKey.get(r.baseline) : undefined
    if (base && (TO_MS[base.unit] !== undefined) === (TO_MS[r.unit] !== undefined)) {
      bar.floor = base.p50 * (TO_MS[base.unit] ?? 1)
      bar.floorLabel = base.name
      if (r.ratio !== undefined) bar.note = `(${r.ratio.toFixed(1)}x)`
    }
    let list = charts.get(unit)
    if (!list) charts.set(unit, (list = []))
    list.push(bar)
  }
  return [...charts].map(([unit, bars]) => ({ unit, bars }))
}

/** Each tier's instance-cold start (in-process, p50) beside its floor: the coldstart scope's headline. */
export function coldStartSummary(scope: Scope): Bar[] {
  const byKey = new Map(scope.rows.map((r) => [`${r.group}|${r.name}`, r]))
  const bars: Bar[] = []
  for (const r of scope.rows) {
    const base = r.baseline ? byKey.get(r.baseline) : undefined
    if (!base || !r.name.startsWith('instance-cold in-process') || !(r.unit in TO_MS) || !(base.unit in TO_MS)) continue
    const bar: Bar = { label: `${r.group}${r.name.slice('instance-cold in-process'.length)}`, value: r.p50 * TO_MS[r.unit]!, floor: base.p50 * TO_MS[base.unit]!, floorLabel: base.name }
    if (r.ratio !== undefined) bar.note = `(${r.ratio.toFixed(1)}x)`
    bars.push(bar)
  }
  return bars
}

function scopeSection(s: Scope): HTMLElement {
  const groups = [...new Set(s.rows.map((r) => r.group))]
  const summary = coldStartSummary(s)
  return h('section', { class: 'scope' },
    h('h3', {}, s.scope, ' ', h('span', { class: `badge ${s.status === 'ok' ? '' : 'error'}` }, s.status), s.seconds ? h('span', { class: 'muted' }, ` ${s.seconds.toFixed(0)} s`) : null),
    s.reason ? h('p', { class: 'muted' }, s.reason.split('\n')[0]) : null,
    summary.length ? h('div', { class: 'group summary' }, h('h4', {}, 'Cold start per tier (instance-cold, in-process, p50) beside its floor'), barChart(summary, 'ms')) : null,
    groups.map((g) => {
      const charts = groupCharts(s, g)
      if (charts.length === 0) return null
      return h('div', { class: 'group' }, h('h4', {}, g), charts.map((c) => barChart(c.bars, c.unit)))
    }),
    s.targets.length ? h('table', { class: 'targets' },
      h('thead', {}, h('tr', {}, ...['Target', 'Measured', 'Bound', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, s.targets.map((t) => h('tr', { title: t.note ?? '' },
        h('td', {}, t.text),
        h('td', { class: 'num' }, `${+t.value.toPrecision(3)} ${t.unit}`),
        h('td', { class: 'num' }, `${t.op} ${t.limit} ${t.unit}`),
        h('td', {}, h('span', { class: t.holds ? 'ok' : 'error' }, t.holds ? 'holds' : 'missed')),
      ))),
    ) : null,
  )
}

export function benchPage(root: HTMLElement): void {
  const body = h('div', {}, h('p', { class: 'muted' }, 'loading…'))
  fill(root, h('h1', {}, 'Benchmarks'), body)
  void getJson<{ dir: string; runs: Run[] }>('/system/bench').then(({ dir, runs }) => {
    if (runs.length === 0) {
      fill(body, h('p', { class: 'muted' }, `No results in ${dir} yet. Run `, h('code', {}, 'npm run bench -- --quick'), ' (or npm run bench:coldstart), then reload this page.'))
      return
    }
    fill(body, runs.map((r) => h('section', { class: 'run' },
      h('h2', {}, r.label, r.quick ? h('span', { class: 'badge' }, 'quick') : null),
      h('p', { class: 'muted' }, [r.date ? `${r.date.replace('T', ' ').slice(0, 19)} UTC` : null, r.cpu, r.commit ? `commit ${r.commit.slice(0, 10)}` : null, r.command].filter(Boolean).join(' · ')),
      r.scopes.map(scopeSection),
    )))
  }).catch((e) => fill(body, h('p', { class: 'error' }, describeError(e))))
}
