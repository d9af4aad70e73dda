// Turns a V8 .cpuprofile (node --cpu-prof) into a flame graph as SVG (one box per call path, width
// = time, hover for the name and share) and prints the top self-time frames and the share of
// time under a few groups of frames (issue 17 item 3). No dependency: the format is a tree of
// nodes with sample ids and time deltas.
//   node dist/bench/profiles/flame.js IN.cpuprofile OUT.svg [title]
import fs from 'node:fs'
import path from 'node:path'

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

/** Groups of frames the report asks about, matched on "name url"; the first match wins. */
export const GROUPS: [string, RegExp][] = [
  ['fastify (routing, hooks, reply)', /node_modules\/(fastify|find-my-way|avvio|@fastify)\//],
  ['writev syscalls (socket writes)', /^writev *$/],
  ['node:http parse/write', /node:_http_|node:internal\/http|HTTPParser|parserOnHeaders|parserOnBody/],
  ['net, streams, sockets', /node:net|node:internal\/streams|node:stream|node:internal\/stream_base|writev|writeUtf8String|writeBuffer/],
  ['app-host frames (encode/decode)', /apphost\/protocol\.js/],
  ['JSON (parse, stringify builtins)', /^(parse|stringify) *$/],
  ['gateway invoke route', /gateway\/(routes\/invoke|inflight|connections)\.js/],
  ['pool, dispatcher, metrics', /runtime\/(pool|metrics|logs)|prom-client/],
  ['isolation (tier, host, kinds)', /dist\/isolation\//],
  ['wasm guest code', /^\S* wasm:\/\//],
  ['timers, event loop', /node:internal\/timers|processTicksAndRejections|processImmediate|runNextTicks|listOnTimeout/],
  ['garbage collector', /^\(garbage collector\)/],
  ['idle', /^\(idle\)/],
]

function label(n: Node): string {
  const f = n.callFrame
  return `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : ''}`.trim()
}

export function analyse(p: Profile) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0)))
  const total = new Map<number, number>()
  const sum = (id: number): number => {
    const n = byId.get(id)!
    let t = self.get(id) ?? 0
    for (const c of n.children ?? []) t += sum(c)
    total.set(id, t)
    return t
  }
  const root = p.nodes[0]!
  const all = sum(root.id)
  // self time per frame name, and time under each group (counted once per path)
  const selfByName = new Map<string, number>()
  for (const [id, t] of self) selfByName.set(label(byId.get(id)!), (selfByName.get(label(byId.get(id)!)) ?? 0) + t)
  const groups = new Map<string, number>()
  const groupSelf = new Map<string, number>()
  for (const [id, t] of self) {
    const n = byId.get(id)!
    const g = GROUPS.find(([, re]) => re.test(`${label(n)} ${n.callFrame.url}`))?.[0] ?? 'other'
    groupSelf.set(g, (groupSelf.get(g) ?? 0) + t)
  }
  const walk = (id: number, open: Set<string>) => {
    const n = byId.get(id)!
    const full = `${label(n)} ${n.callFrame.url}`
    const g = GROUPS.find(([, re]) => re.test(full))?.[0]
    const here = g && !open.has(g) ? new Set(open).add(g) : open
    for (const name of here) groups.set(name, (groups.get(name) ?? 0) + (self.get(id) ?? 0))
    for (const c of n.children ?? []) walk(c, here)
  }
  walk(root.id, new Set())
  return { byId, self, total, all, root, selfByName, groups, groupSelf }
}

const COLORS: Record<string, string> = { fastify: '#e8a33d', 'node:http': '#d9663a', net: '#c94f4f', 'app-host': '#5aa0d6', JSON: '#9b6ad6', gateway: '#6cbf5e', pool: '#4fb3a5', isolation: '#3d7fbf', wasm: '#8a8a8a', timers: '#c9b84f', garbage: '#aa4488', idle: '#dddddd' }

export function toSvg(p: Profile, title: string): string {
  const a = analyse(p)
  const W = 1200, H = 16
  const boxes: string[] = []
  let depthMax = 0
  const draw = (id: number, x: number, depth: number) => {
    const t = a.total.get(id) ?? 0
    const w = (t / a.all) * W
    if (w < 0.3) return
    const n = a.byId.get(id)!
    const name = label(n)
    const g = GROUPS.find(([, re]) => re.test(`${name} ${n.callFrame.url}`))?.[0] ?? ''
    const color = Object.entries(COLORS).find(([k]) => g.startsWith(k))?.[1] ?? '#f0c987'
    depthMax = Math.max(depthMax, depth)
    const esc = name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;')
    const text = w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="${depth * H + 12}">${esc.slice(0, Math.floor(w / 6.5))}</text>` : ''
    boxes.push(`<g><title>${esc} (${((100 * t) / a.all).toFixed(2)}%)</title><rect x="${x.toFixed(1)}" y="${depth * H}" width="${w.toFixed(1)}" height="${H - 1}" fill="${color}"/>${text}</g>`)
    let cx = x
    for (const c of a.byId.get(id)!.children ?? []) {
      draw(c, cx, depth + 1)
      cx += ((a.total.get(c) ?? 0) / a.all) * W
    }
  }
  draw(a.root.id, 0, 1)
  const h = (depthMax + 2) * H
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" font-family="monospace" font-size="11">` +
    `<text x="3" y="12">${title.replace(/&/g, '&amp;').replace(/</g, '&lt;')} (root at top, ${(a.all / 1e6).toFixed(1)} s sampled)</text>\n${boxes.join('\n')}\n</svg>\n`
}

export function summary(p: Profile, top = 15): string {
  const a = analyse(p)
  const pct = (t: number) => `${((100 * t) / a.all).toFixed(1)}%`
  const lines = ['top self time:']
  for (const [n, t] of [...a.selfByName].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(t).padStart(6)}  ${n}`)
  lines.push('group: self time (in its own frames) / inclusive (under its frames, once per path):')
  for (const [g] of [...GROUPS, ['other']]) lines.push(`  ${pct(a.groupSelf.get(g!) ?? 0).padStart(6)} / ${pct(a.groups.get(g!) ?? 0).padStart(6)}  ${g}`)
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output, title] = process.argv.slice(2)
  if (!input || !output) throw new Error('usage: flame.js IN.cpuprofile OUT.svg [title]')
  const p = JSON.parse(fs.readFileSync(input, 'utf8')) as Profile
  fs.writeFileSync(output, toSvg(p, title ?? path.basename(input)))
  console.log(summary(p))
}
