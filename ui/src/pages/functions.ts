// The function list, refreshed every 2 s: tier, app, replicas, sandboxes, calls, and sparklines of
// the last two minutes (rate, 5xx share, p50, p99) from GET /system/stats.
import { type FunctionStats, type FunctionStatus, getJson, nsQuery } from '../api.js'
import { sparkline } from '../charts.js'
import { fill, h, ms } from '../dom.js'
import { poll, type Stop } from '../live.js'

export function lastValue(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i]!
  return null
}

/** calls, 5xx share and rate over the whole series */
export function totals(s: FunctionStats['series']): { calls: number; errors: number; rps: number } {
  const calls = s.calls.reduce((a, b) => a + b, 0)
  const errors = s.errors.reduce((a, b) => a + b, 0)
  return { calls, errors, rps: calls / ((s.calls.length * s.slotMs) / 1000) }
}

/** The four sparkline cells of a function (empty cells when it has had no call yet). */
export function sparkCells(st: FunctionStats | undefined): HTMLElement[] {
  if (!st) return [h('td', { class: 'muted' }, '–'), h('td', { class: 'muted' }, '–'), h('td', { class: 'muted' }, '–'), h('td', { class: 'muted' }, '–')]
  const s = st.series
  const t = totals(s)
  const perSecond = s.calls.map((c) => c / (s.slotMs / 1000))
  const errShare = s.calls.map((c, i) => (c ? s.errors[i]! / c : null))
  return [
    h('td', {}, sparkline(perSecond, { cls: 'rate', title: `calls/s over 2 min; now ${perSecond.at(-1)!.toFixed(1)}/s` }), h('span', { class: 'num' }, `${t.rps >= 10 ? t.rps.toFixed(0) : t.rps.toFixed(2)}/s`)),
    h('td', {}, sparkline(errShare, { cls: 'err', title: '5xx share over 2 min' }), h('span', { class: `num${t.errors ? ' error' : ''}` }, t.calls ? `${((100 * t.errors) / t.calls).toFixed(1)}%` : '–')),
    h('td', {}, sparkline(s.p50Ms, { cls: 'p50', title: 'p50 over 2 min' }), h('span', { class: 'num' }, ms(lastValue(s.p50Ms)))),
    h('td', {}, sparkline(s.p99Ms, { cls: 'p99', title: 'p99 over 2 min' }), h('span', { class: 'num' }, ms(lastValue(s.p99Ms)))),
  ]
}

export function functionsPage(root: HTMLElement): Stop {
  const status = h('div', { class: 'status', role: 'status' })
  const body = h('tbody')
  fill(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Functions'), h('a', { href: '#/deploy', class: 'button' }, 'Deploy a function')),
    status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'functions' },
      h('thead', {}, h('tr', {}, ...['Name', 'Tier', 'App', 'Replicas', 'Warm', 'Idle', 'Invocations', 'Rate (2 min)', '5xx', 'p50', 'p99'].map((c) => h('th', {}, c)))),
      body,
    )),
  )
  return poll(async () => {
    const [fns, stats] = await Promise.all([getJson<FunctionStatus[]>(`/system/functions${nsQuery()}`), getJson<{ functions: FunctionStats[] }>(`/system/stats${nsQuery()}`)])
    const byName = new Map(stats.functions.map((f) => [f.name, f]))
    fns.sort((a, b) => a.name.localeCompare(b.name))
    if (fns.length === 0) {
      fill(body, h('tr', {}, h('td', { colspan: 11, class: 'muted' }, 'Nothing deployed in this namespace. ', h('a', { href: '#/deploy' }, 'Deploy a function'), '.')))
      return
    }
    fill(body, fns.map((f) => {
      const a = f.annotations ?? {}
      const err = a['com.kindling.error']
      return h('tr', { 'data-function': f.name },
        h('td', {}, h('a', { href: `#/fn/${encodeURIComponent(f.name)}` }, f.name), err ? h('span', { class: 'badge error', title: err }, 'error') : null),
        h('td', {}, h('span', { class: 'badge' }, a['com.kindling.tier'] ?? '?')),
        h('td', {}, a['com.kindling.app'] ?? ''),
        h('td', { class: 'num' }, `${f.availableReplicas}/${f.replicas}`),
        h('td', { class: 'num' }, a['com.kindling.sandboxes.warm'] ?? '0'),
        h('td', { class: 'num' }, a['com.kindling.sandboxes.idle'] ?? '0'),
        h('td', { class: 'num' }, String(f.invocationCount)),
        ...sparkCells(byName.get(f.name)),
      )
    }))
  }, status)
}
