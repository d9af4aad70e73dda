// R4 (Faasm ATC'20, Fig. 10): cold-start churn. Requests arrive open-loop at a fixed rate and each
// needs a new sandbox; as the rate rises, latency stays flat until the platform cannot keep up.
// The bench's churn scope runs the sweep; it is repeated here so that each point has a spread.
import { cite, published, RECALLED_MARK } from '../published.js'
import { logLines, type Point } from '../report/figures.js'
import { mdTable, num, ratio } from '../report/markdown.js'
import { emptyData, type Experiment, type ExperimentData } from './types.js'

interface Sweep {
  variant: string
  rate: number
  /** median latency (ms) of each repeat */
  p50s: number[]
  p99s: number[]
  achieved: number[]
}

/** A series name for the figure's legend. */
function shortName(v: string): string {
  if (v.startsWith('container')) return 'kindling container (crun, new container per call)'
  const tier = v.split(' ')[0]
  return `kindling ${tier}, ${v.includes('snapshot') ? 'snapshot restore' : 'new instance'} per call`
}

/** The highest rate offered to a variant in this run. */
function highestRate(d: ExperimentData, variant: string): number {
  return Math.max(...d.rows.filter((r) => r.label === variant && r.key.endsWith('|latency')).map((r) => Number(r.key.split('|')[1])))
}

/** A knee; at the highest rate offered it is a lower bound (the sweep never saw the variant fall behind). */
export function kneeText(knee: number, highest: number): string {
  return knee >= highest ? `>= ${num(knee)}/s (lower bound: the highest rate offered)` : `${num(knee)}/s`
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y)
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN
}

export const r4: Experiment = {
  id: 'R4',
  title: 'Cold-start churn: latency against offered load',
  origin: 'Faasm (ATC\'20), Fig. 10: initialisation latency vs throughput, a new instance per request',
  suiteRepeat: false,
  async run(ctx) {
    const data = emptyData('R4')
    const repeats = Number(ctx.options['churn-repeats'] ?? (ctx.quick ? 1 : 5))
    // full run: 15 s per rate after a 2 s warm-up, 5 repeats; fewer rates than a fine sweep so that
    // R4 stays under half an hour (--churn-rates / --container-rates refine it)
    const opts: Record<string, string> = ctx.quick
      ? {}
      : {
          'churn-duration': String(ctx.options['churn-duration'] ?? 15),
          'churn-warmup': String(ctx.options['churn-warmup'] ?? 2),
          rates: String(ctx.options['churn-rates'] ?? '100,1000,2000,4000,8000'),
          'container-rates': String(ctx.options['container-rates'] ?? '1,5,20,100'),
        }
    const sweeps = new Map<string, Sweep>()
    const knees = new Map<string, number[]>()
    for (let i = 0; i < repeats; i++) {
      if (i > 0 && ctx.shouldStop()) break
      const s = await ctx.scope('churn', { ...opts, repeat: String(i + 1) })
      if (s.status !== 'ok') {
        data.status = 'partial'
        data.notes.push(`churn run ${i + 1}: ${s.status} ${s.reason?.split('\n')[0] ?? ''}`)
      }
      for (const r of s.rows) {
        const m = /^(\d+(?:\.\d+)?)\/s offered: (latency|achieved)$/.exec(r.name)
        if (m) {
          const key = `${r.group}|${m[1]}`
          const sw = sweeps.get(key) ?? { variant: r.group, rate: Number(m[1]), p50s: [], p99s: [], achieved: [] }
          sweeps.set(key, sw)
          if (m[2] === 'latency') {
            sw.p50s.push(r.p50)
            sw.p99s.push(r.p99 ?? NaN)
          } else sw.achieved.push(r.p50)
        } else if (r.name.startsWith('knee')) knees.set(r.group, [...(knees.get(r.group) ?? []), r.p50])
      }
      if (i === 0) data.notes.push(...s.notes.filter((n) => !n.startsWith('open-loop') && !n.startsWith('Faasm') && !/^(pinned|not pinned|pinning)/.test(n)))
      if (i === 0) data.method.push(...s.notes.filter((n) => n.startsWith('open-loop') || /^(pinned|not pinned|pinning)/.test(n)).map((n) => `bench scope \`churn\`${ctx.quick ? ' (--quick: the wasm variant at two rates)' : ` (${Object.entries(opts).map(([k, v]) => `--${k} ${v}`).join(' ')})`}: ${n}`))
    }
    for (const sw of sweeps.values()) {
      const lo = Math.min(...sw.p50s)
      const hi = Math.max(...sw.p50s)
      data.rows.push({ key: `${sw.variant}|${sw.rate}|latency`, label: sw.variant, system: sw.variant.startsWith('container') ? 'container' : 'kindling', unit: 'ms', n: sw.p50s.length, p50: median(sw.p50s), p99: median(sw.p99s), ci95: [lo, hi], rounds: sw.p50s.length })
      data.rows.push({ key: `${sw.variant}|${sw.rate}|achieved`, label: sw.variant, system: sw.variant.startsWith('container') ? 'container' : 'kindling', unit: 'req/s', n: sw.achieved.length, p50: median(sw.achieved), ci95: [Math.min(...sw.achieved), Math.max(...sw.achieved)] })
    }
    for (const [variant, ks] of knees) data.rows.push({ key: `${variant}|knee`, label: variant, system: variant.startsWith('container') ? 'container' : 'kindling', unit: 'req/s', n: ks.length, p50: median(ks.filter(Number.isFinite)), ci95: [Math.min(...ks), Math.max(...ks)], rounds: ks.length })
    data.method.push(`${repeats} repeat(s) of the whole sweep; per rate the median over repeats of each run's median latency, the interval is the range over repeats (not a bootstrap: ${repeats} values), p99 the median of the runs' p99s; an untimed warm-up at each rate before it is measured; knee = the highest offered rate at which >= 90% is achieved and the median stays within 3x of the lowest rate's (per repeat; median and range over repeats)`)
    data.method.push('a knee at the highest rate offered is a lower bound (the sweep did not find where the variant stops keeping up) and is shown as ">= rate"')
    data.series = { sweep: [...sweeps.values()].map((s) => ({ variant: s.variant, rate: s.rate, achieved: median(s.achieved), p50: median(s.p50s), lo: Math.min(...s.p50s), hi: Math.max(...s.p50s), p99: median(s.p99s) })) }
    if (!sweeps.size) data.status = 'failed'
    return data
  },
  render(d) {
    const variants = [...new Set(d.rows.filter((r) => r.key.endsWith('|knee')).map((r) => r.label))]
    const get = (v: string, suffix: string) => d.rows.find((r) => r.key === `${v}|${suffix}`)
    const lowest = (v: string) => d.rows.filter((r) => r.label === v && r.key.endsWith('|latency')).sort((a, b) => Number(a.key.split('|')[1]) - Number(b.key.split('|')[1]))[0]
    const pub = (v: string): [string, string] =>
      v.startsWith('container') ? [cite(published('faasm.churn.docker.latency')), cite(published('faasm.churn.docker.knee'))] : v.includes('snapshot') ? [cite(published('faasm.churn.proto.latency')), cite(published('faasm.churn.proto.knee'))] : [cite(published('faasm.churn.faaslet.latency')), cite(published('faasm.churn.faaslet.knee'))]
    const lines = variants.map((v) => {
      const low = lowest(v)
      const knee = get(v, 'knee')
      const [pl, pk] = pub(v)
      return [v, pl, low ? `${num(low.p50)} ms at ${low.key.split('|')[1]}/s` : '–', pk, knee ? `${kneeText(knee.p50, highestRate(d, v))}${knee.ci95 && knee.n > 1 ? ` [${num(knee.ci95[0])}–${num(knee.ci95[1])}]` : ''}` : '–']
    })
    const knee = (f: (v: string) => boolean) => {
      const v = variants.find(f)
      const k = v ? get(v, 'knee')?.p50 : undefined
      return k === undefined || !v ? undefined : { rate: k, lowerBound: k >= highestRate(d, v) }
    }
    // a lower-bound knee over an exact one is a lower bound; under it, nothing can be said
    const kneeRatio = (a: { rate: number; lowerBound: boolean } | undefined, b: { rate: number; lowerBound: boolean } | undefined) =>
      !a || !b ? '–' : b.lowerBound ? (a.lowerBound ? 'both knees are lower bounds: no ratio' : 'denominator is a lower bound: at most ' + ratio(a.rate / b.rate)) : `${a.lowerBound ? '>= ' : ''}${ratio(a.rate / b.rate)}`
    const ctrKnee = knee((v) => v.startsWith('container'))
    const newKnee = knee((v) => v.startsWith('wasm') && v.includes('new instance'))
    const snapKnee = knee((v) => v.includes('snapshot'))
    const points: Point[] = (d.series?.sweep ?? []).map((p) => ({ series: shortName(String(p['variant'])), x: Number(p['achieved']), y: Number(p['p50']), lo: p['lo'] === undefined ? undefined : Number(p['lo']), hi: p['hi'] === undefined ? undefined : Number(p['hi']), p99: p['p99'] === undefined ? undefined : Number(p['p99']) })).filter((p) => p.x > 0 && p.y > 0)
    const marks: Point[] = [
      ...(['docker', 'faaslet', 'proto'] as const).map((k) => {
        const knee = published(`faasm.churn.${k}.knee`)
        const lat = published(`faasm.churn.${k}.latency`)
        const name = { docker: 'Docker', faaslet: 'Faaslet', proto: 'Proto-Faaslet' }[k]
        // every published point says where it comes from: read in a text, or recalled (†)
        return { series: `Faasm ${name}, knee (${knee.provenance === 'RECALLED' ? `recalled ${RECALLED_MARK}` : knee.provenance})`, x: knee.value!, y: lat.unit === 's' ? lat.value! * 1000 : lat.value! }
      }),
    ]
    const md = [
      'A platform that starts a sandbox per request has a maximum start rate. Faasm drove a no-op with an open-loop generator (requests at a fixed rate, whatever the responses do) and plotted median latency against achieved throughput: Docker stays at ~2 s up to ~3 requests/s and then only gets slower; Faaslets stay at ~5 ms up to ~600/s; Proto-Faaslets at ~0.5 ms up to ~4,000/s. The knee is where isolation cost becomes a throughput limit.',
      '',
      d.method.some((m) => m.includes('latency from the scheduled send'))
        ? 'Here the same sweep runs against kindling\'s gateway over loopback with a no-op per request that needs a new wasm instance, or a clean instance by snapshot restore, or a new container. Each rate is warmed up (untimed) before it is measured; latency runs from the time the schedule said to send a request to its last byte, so a generator that falls behind or a request waiting for a connection is not hidden (no coordinated omission). The load generator is pinned to one core with taskset and the gateway with everything it starts to the other: the system under test has one core of this 2-core machine, and the generator cannot take it from it (method below says whether pinning worked in this run). A knee at the highest rate offered is a lower bound, shown as ">=".'
        : 'Here the same sweep runs against kindling\'s gateway over loopback with a no-op per request that needs a new wasm instance, or a clean instance by snapshot restore, or a new container. **This run predates the corrected method**: its latencies run from the actual send (a late send or a wait for a connection is hidden: coordinated omission), with no warm-up and no pinning (method below); the next full run measures from the scheduled send, warms up each rate and pins the generator. A knee at the highest rate offered is a lower bound, shown as ">=".',
      '',
      mdTable(['variant', 'Faasm latency at low load', 'here, lowest rate', 'Faasm knee', 'here, knee [range over repeats]'], lines, ['l', 'r', 'r', 'r', 'r']),
      '',
      mdTable(['ratio of knees', 'Faasm', 'here'], [
        ['fresh wasm sandbox / container', `${num(600 / 3)}x (600 / 3)`, kneeRatio(newKnee, ctrKnee)],
        ['snapshot-restored sandbox / container', `${num(4000 / 3)}x (4,000 / 3)`, kneeRatio(snapKnee, ctrKnee)],
        ['snapshot-restored / fresh', `${num(4000 / 600)}x`, kneeRatio(snapKnee, newKnee)],
      ], ['l', 'r', 'r']),
      '',
      'The full sweep (per offered rate: the median over repeats of each repeat\'s median latency, the range over repeats in brackets, for latency and for the achieved rate; p99 the median of the repeats\' p99):',
      '',
      mdTable(['variant', 'offered /s', 'achieved /s', 'median latency', 'p99'], d.rows.filter((r) => r.key.endsWith('|latency')).map((r) => {
        const ach = get(r.label, `${r.key.split('|')[1]}|achieved`)
        return [r.label, r.key.split('|')[1]!, ach ? `${num(ach.p50)}${ach.ci95 && ach.n > 1 ? ` [${num(ach.ci95[0])}–${num(ach.ci95[1])}]` : ''}` : '–', `${num(r.p50)} ms${r.ci95 && r.n > 1 ? ` [${num(r.ci95[0])}–${num(r.ci95[1])}]` : ''}`, `${num(r.p99)} ms`]
      }), ['l', 'r', 'r', 'r', 'r']),
    ]
    return { markdown: md.join('\n'), figures: points.length ? [{ file: 'r4-churn.svg', spec: logLines('R4: median latency vs achieved throughput (bars: range over repeats; triangles: p99)', points, 'achieved requests/s (log)', d.method.some((m) => m.includes('latency from the scheduled send')) ? 'latency from the scheduled send, ms (log)' : 'latency from the actual send, ms (log)', marks), caption: `R4: churn sweep; crosses are Faasm's published knees, each with its provenance (${RECALLED_MARK}: recalled)` }] : [] }
  },
  disagreements(d: ExperimentData) {
    const out: string[] = []
    const knees = d.rows.filter((r) => r.key.endsWith('|knee'))
    const snap = knees.find((k) => k.label.includes('snapshot'))
    if (snap && snap.p50 < 4000) out.push(`the snapshot-restored wasm variant's knee is ${num(snap.p50)}/s against Proto-Faaslets' ~4,000/s: here one machine with 2 cores runs the load generator, the gateway (HTTP parsing) and the app host, and each request crosses the gateway-app host IPC; Faasm's generator called its runtime in-process on a larger host. The per-request start itself (R1) is not the limit.`)
    const ctr = knees.find((k) => k.label.startsWith('container'))
    if (ctr && ctr.p50 > 3 * 3) out.push(`the container baseline keeps up to ${num(ctr.p50)}/s here against Docker's ~3/s in Faasm's figure, so every "wasm / container" knee ratio is far smaller than Faasm's: kindling's container tier runs crun directly (no daemon) with a container created ahead of each call, at ~${num(d.rows.filter((r) => r.label === ctr.label && r.key.endsWith('|latency')).sort((a, b) => Number(a.key.split('|')[1]) - Number(b.key.split('|')[1]))[0]?.p50)} ms per request at low load against Docker's ~2 s.`)
    const lowNew = d.rows.filter((r) => r.label.startsWith('wasm') && r.label.includes('new instance') && r.key.endsWith('|latency')).sort((a, b) => Number(a.key.split('|')[1]) - Number(b.key.split('|')[1]))[0]
    if (lowNew && lowNew.p50 < 1) out.push(`at low load a request that needs a new wasm instance takes ${num(lowNew.p50)} ms end to end here, under Faasm's ~5 ms for a new Faaslet: V8 instantiates a small compiled module in tens of µs (R12), and kindling keeps the compiled module in the warm app host.`)
    return out
  },
}
