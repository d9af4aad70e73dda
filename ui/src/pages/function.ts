// One function: live figures, scale and remove, an invoke panel, its logs as they come (GET
// /system/logs?follow=true), its recent cold starts by phase, and its spec.
import { currentSession, type FunctionStats, type FunctionStatus, getJson, nsQuery, sendJson, stream } from '../api.js'
import { fill, h, ms } from '../dom.js'
import { describeError, poll, type Stop } from '../live.js'
import { sparkCells } from './functions.js'
import { invokePanel } from './invoke.js'

/** lines kept on screen; older ones fall out */
const MAX_LOG_LINES = 1000

export function functionPage(root: HTMLElement, name: string): Stop {
  const ns = currentSession()?.namespace ?? ''
  const q = nsQuery()
  const status = h('div', { class: 'status', role: 'status' })
  const figures = h('tbody')
  const spec = h('pre', { class: 'spec' })
  const coldStarts = h('div')
  const logs = h('pre', { class: 'logs', 'aria-live': 'off' })
  const logStatus = h('span', { class: 'muted' }, 'connecting…')
  const actionStatus = h('span', { class: 'status' })
  const replicas = h('input', { type: 'number', min: 0, step: 1, class: 'small', 'aria-label': 'replicas', id: 'scale-replicas' })
  let replicasTouched = false
  replicas.addEventListener('input', () => (replicasTouched = true))

  const scale = h('button', { type: 'button', onclick: async () => {
    fill(actionStatus, 'scaling…')
    try {
      await sendJson('POST', `/system/scale-function/${encodeURIComponent(name)}${q}`, { serviceName: name, replicas: Number(replicas.value), namespace: ns || undefined })
      replicasTouched = false
      fill(actionStatus, `asked for ${replicas.value} replicas`)
    } catch (e) {
      fill(actionStatus, h('span', { class: 'error' }, describeError(e)))
    }
  } }, 'Scale')
  // two clicks rather than confirm(): no modal dialog, and the second click is a deliberate one
  let armed = false
  const remove = h('button', { type: 'button', class: 'danger', onclick: async () => {
    if (!armed) {
      armed = true
      remove.textContent = 'Click again to remove'
      setTimeout(() => {
        armed = false
        remove.textContent = 'Remove'
      }, 4000)
      return
    }
    try {
      await sendJson('DELETE', `/system/functions${q}`, { functionName: name, namespace: ns || undefined })
      location.hash = '#/'
    } catch (e) {
      fill(actionStatus, h('span', { class: 'error' }, describeError(e)))
    }
  } }, 'Remove')

  fill(root,
    h('div', { class: 'title-row' }, h('h1', {}, name), h('span', { class: 'muted' }, ns)),
    status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'functions' },
      h('thead', {}, h('tr', {}, ...['Tier', 'App', 'Replicas', 'Warm', 'Idle', 'Busy', 'Invocations', 'Rate (2 min)', '5xx', 'p50', 'p99'].map((c) => h('th', {}, c)))),
      figures,
    )),
    h('div', { class: 'actions' }, h('label', { for: 'scale-replicas' }, 'Replicas'), replicas, scale, remove, actionStatus),
    h('section', {}, h('h2', {}, 'Invoke'), invokePanel(name, ns)),
    h('section', {}, h('h2', {}, 'Logs ', logStatus), logs),
    h('section', {}, h('h2', {}, 'Recent cold starts'), coldStarts),
    h('section', {}, h('h2', {}, 'Spec'), spec),
  )

  const stopPoll = poll(async () => {
    const [f, stats] = await Promise.all([getJson<FunctionStatus>(`/system/function/${encodeURIComponent(name)}${q}`), getJson<{ functions: FunctionStats[] }>(`/system/stats${q}`)])
    const st = stats.functions.find((s) => s.name === name)
    const a = f.annotations ?? {}
    fill(figures, h('tr', {},
      h('td', {}, h('span', { class: 'badge' }, a['com.kindling.tier'] ?? '?')),
      h('td', {}, a['com.kindling.app'] ?? ''),
      h('td', { class: 'num' }, `${f.availableReplicas}/${f.replicas}`),
      h('td', { class: 'num' }, a['com.kindling.sandboxes.warm'] ?? '0'),
      h('td', { class: 'num' }, a['com.kindling.sandboxes.idle'] ?? '0'),
      h('td', { class: 'num' }, a['com.kindling.sandboxes.busy'] ?? '0'),
      h('td', { class: 'num', id: 'invocations' }, String(f.invocationCount)),
      ...sparkCells(st),
    ))
    if (!replicasTouched) replicas.value = String(f.replicas)
    spec.textContent = JSON.stringify(f, null, 2)
    fill(coldStarts, coldStartTable(st))
  }, status)

  // the log stream: NDJSON lines, read as they arrive until the page closes
  const abort = new AbortController()
  void (async () => {
    try {
      const res = await stream(`/system/logs?name=${encodeURIComponent(name)}${nsQuery('&')}&tail=200&follow=true`, abort.signal)
      fill(logStatus, 'live')
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
      let pending = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        pending += value
        const lines = pending.split('\n')
        pending = lines.pop()!
        const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4
        for (const l of lines) {
          if (!l) continue
          const m = JSON.parse(l) as { timestamp: string; instance: string; text: string }
          logs.appendChild(h('div', {}, h('span', { class: 'ts' }, m.timestamp.slice(11, 23)), ' ', h('span', { class: 'inst' }, m.instance), ' ', m.text))
        }
        while (logs.childElementCount > MAX_LOG_LINES) logs.firstElementChild!.remove()
        if (atBottom) logs.scrollTop = logs.scrollHeight
      }
      fill(logStatus, 'ended')
    } catch (e) {
      if (!abort.signal.aborted) fill(logStatus, h('span', { class: 'error' }, describeError(e)))
    }
  })()

  return () => {
    stopPoll()
    abort.abort()
  }
}

function coldStartTable(st: FunctionStats | undefined): HTMLElement {
  const starts = st?.coldStarts ?? []
  const prepare = st?.prepare
  const note = prepare ? h('p', { class: 'muted' }, `prepare (compile or unpack, once per version) on ${prepare.tier}: ${ms(prepare.ms)} at ${prepare.at.slice(11, 19)}`) : null
  if (starts.length === 0) return h('div', {}, note, h('p', { class: 'muted' }, 'No sandbox started since the gateway did.'))
  const max = Math.max(...starts.map((c) => c.spawnMs), 1e-6)
  return h('div', {}, note, h('table', { class: 'cold' },
    h('thead', {}, h('tr', {}, ...['When', 'Tier', 'A call waited', 'Spawn', 'of which instantiate', ''].map((c) => h('th', {}, c)))),
    h('tbody', {}, [...starts].reverse().map((c) => {
      // spawn includes instantiate: the bar shows the rest of spawn and instantiate side by side
      const bar = h('div', { class: 'phase-bar' })
      const w = (v: number) => `${Math.max(0.5, (100 * v) / max).toFixed(1)}%`
      const inst = h('span', { class: 'phase instantiate', title: `instantiate ${ms(c.instantiateMs)}` })
      const rest = h('span', { class: 'phase spawn', title: `spawn without instantiate ${ms(Math.max(0, c.spawnMs - c.instantiateMs))}` })
      bar.append(rest, inst)
      // widths are set through the CSSOM, which the CSP allows (style attributes in markup it does not)
      rest.style.width = w(Math.max(0, c.spawnMs - c.instantiateMs))
      inst.style.width = w(c.instantiateMs)
      return h('tr', {}, h('td', {}, c.at.slice(11, 23)), h('td', {}, c.tier), h('td', {}, c.criticalPath ? 'yes' : 'no'), h('td', { class: 'num' }, ms(c.spawnMs)), h('td', { class: 'num' }, ms(c.instantiateMs)), h('td', { class: 'bar-cell' }, bar))
    })),
  ))
}
