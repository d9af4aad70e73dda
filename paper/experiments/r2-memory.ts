// R2 and R3 (Faasm ATC'20, Table 3, memory and capacity rows): what one idle sandbox costs in
// memory (PSS and RSS), and how many fit on the machine, per tier. Both come from the bench's
// density scope (one run shared by the two experiments): wasm sandboxes filled into kindling's
// app host program until a limit, the other tiers spawned one by one.
import { cite, published, RECALLED_MARK } from '../published.js'
import { logBars } from '../report/figures.js'
import { find, mdTable, num, ratio } from '../report/markdown.js'
import type { ScopeResult } from '../../bench/lib/scope.js'
import { descendants, sumMemory } from '../../bench/lib/procmem.js'
import { containerKit } from './shared.js'
import { emptyData, type Experiment, type ExperimentData, type Measured, type PaperContext } from './types.js'

const GUARD = 'guard regions'
const BOUNDS = 'explicit bounds checks'

/** The density scope's options: Faasm held 5,000-10,000 Faaslets for memory and ramped to the limit for capacity. */
function densityOptions(ctx: PaperContext): Record<string, string> {
  return ctx.quick ? { variants: 'guard,bounds' } : { variants: 'guard,bounds', 'density-target': String(ctx.options['density-target'] ?? 100_000) }
}

/** Rows of the density scope as kept in results.json: keys `<tier>:<what>`. */
function densityRows(s: ScopeResult): Measured[] {
  const out: Measured[] = []
  const put = (key: string, label: string, group: string, name: string) => {
    const r = s.rows.find((x) => x.group.includes(group) && x.name.startsWith(name))
    if (r) out.push({ key, label, system: key.startsWith('container') ? 'container' : 'kindling', unit: r.unit, n: r.n, p50: r.p50, note: r.note })
  }
  for (const [tier, group] of [['wasm-guard', GUARD], ['wasm-bounds', BOUNDS]] as const) {
    const label = `wasm tier, idle instance (${group})`
    put(`${tier}:count`, label, group, 'idle sandboxes held at once')
    put(`${tier}:pss`, label, group, 'PSS per sandbox (marginal)')
    put(`${tier}:rss`, label, group, 'RSS per sandbox (marginal')
    put(`${tier}:pss-total`, label, group, 'PSS per sandbox (hosts total')
    put(`${tier}:hosts`, label, group, 'app host processes')
    put(`${tier}:after-use`, label, group, 'extra RSS per sandbox after one call')
  }
  for (const tier of ['thread', 'process', 'container'] as const) {
    const label = tier === 'container' ? 'container tier, idle container (crun, created ahead)' : `${tier} tier, idle ${tier === 'thread' ? 'worker thread' : 'Node process'}`
    put(`${tier}:count`, label, `${tier} echo`, 'idle sandboxes held at once')
    put(`${tier}:pss`, label, `${tier} echo`, 'PSS per sandbox')
    put(`${tier}:rss`, label, `${tier} echo`, 'RSS per sandbox')
    put(`${tier}:avail`, label, `${tier} echo`, 'MemAvailable drop per sandbox')
  }
  return out
}

/**
 * Idle containers as Faasm held them (a container whose process sleeps), run by crun straight
 * from the kit's busybox bundle: PSS and RSS of each container's processes from smaps_rollup.
 * crun leaves no daemon or shim behind, so that is all a container costs besides kernel objects.
 */
function crunIdleMemory(ctx: PaperContext): Promise<Measured[]> {
  return ctx.shared('crun-idle-memory', async () => {
    const kit = await containerKit(ctx)
    if (!kit.oci.crun) return []
    const n = ctx.quick ? 3 : 50
    const ids: string[] = []
    try {
      ctx.progress.step(`${n} idle crun containers`)
      for (let i = 0; i < n; i++) ids.push(await kit.startSleeper('crun', 'bb'))
      await new Promise((r) => setTimeout(r, 1000))
      const pids: number[] = []
      for (const id of ids) {
        const pid = await kit.pidOf('crun', id)
        if (pid) pids.push(pid, ...descendants(pid))
      }
      const m = sumMemory(pids)
      const label = 'crun container, idle (busybox sleep), its processes'
      return [
        { key: 'crun:pss', label, system: 'container' as const, unit: 'KiB' as const, n: ids.length, p50: m.pssKiB / ids.length, note: `${pids.length} processes in ${ids.length} containers` },
        { key: 'crun:rss', label, system: 'container' as const, unit: 'KiB' as const, n: ids.length, p50: m.rssKiB / ids.length },
        { key: 'crun:count', label, system: 'container' as const, unit: 'count' as const, n: 1, p50: ids.length },
      ]
    } finally {
      for (const id of ids) await kit.stopSleeper('crun', id)
    }
  })
}

async function runDensity(ctx: PaperContext, id: string): Promise<ExperimentData> {
  const data = emptyData(id)
  const s = await ctx.scope('density', densityOptions(ctx))
  data.rows = [...densityRows(s), ...(await crunIdleMemory(ctx))]
  if (s.status !== 'ok') {
    data.status = data.rows.length ? 'partial' : 'failed'
    data.reason = `density scope: ${s.status} ${s.reason ?? ''}`.trim()
  }
  data.notes.push(...s.notes.filter((n) => !n.startsWith('per-call')))
  data.method.push(
    `bench scope \`density\` (${Object.entries(densityOptions(ctx)).map(([k, v]) => `--${k} ${v}`).join(' ')}): the AssemblyScript echo function; wasm sandboxes are spawned into kindling's app host program over its own protocol (256 in flight) until the target, a limit of the process (address space, vm.max_map_count) or the MemAvailable safety margin; thread, process and container sandboxes are spawned one after another through the tier API (${ctx.quick ? '1' : '100 / 50 / 50'})`,
    'memory: RSS and PSS summed over the processes that hold the sandboxes, from /proc/<pid>/smaps_rollup, marginal = (full - the same processes with the function loaded and no sandbox) / sandboxes, measured once the sandboxes are idle (Faasm sampled at 50/75/90% of a 25 s sleep; here the sandboxes are idle, not sleeping inside a call)',
    'containers: kindling\'s container tier (the density scope) counts the drop of MemAvailable per idle container (its containers are not children of the benchmark); besides, idle crun containers (busybox sleep, the kit\'s bundle, as Faasm held `docker run -di` containers) measured by the PSS and RSS of their processes. Faasm summed PSS over dockerd and its children',
  )
  return data
}

/** KiB per sandbox of a memory row (KiB or MiB). */
function kib(m: Measured | undefined): number | undefined {
  if (!m) return undefined
  const v = m.unit === 'MiB' ? m.p50 * 1024 : m.unit === 'KiB' ? m.p50 : undefined
  // a MemAvailable drop over a handful of containers can come out negative (other work on the machine)
  return v !== undefined && v > 0 ? v : undefined
}

function kibText(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–'
  return v >= 1024 ? `${num(v / 1024)} MiB` : `${num(v)} KiB`
}

export const r2: Experiment = {
  id: 'R2',
  title: 'Memory per idle sandbox',
  origin: 'Faasm (ATC\'20), Table 3: PSS and RSS per instance',
  run: (ctx) => runDensity(ctx, 'R2'),
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const ctr = kib(row('crun:pss')) ?? kib(row('container:avail'))
    const lines: string[][] = []
    const line = (key: string, label: string, pubPss: string, pubRss: string, pssKey = `${key}:pss`) => {
      const pss = kib(row(pssKey))
      const rss = kib(row(`${key}:rss`))
      if (pss === undefined && rss === undefined) return
      lines.push([label, pubPss, pubRss, kibText(pss), kibText(rss), ctr && pss ? ratio(ctr / pss) : '–'])
    }
    lines.push(['Faasm: Docker container', cite(published('faasm.pss.docker')), cite(published('faasm.rss.docker')), '', '', ''])
    lines.push(['Faasm: Faaslet', cite(published('faasm.pss.faaslet')), cite(published('faasm.pss.faaslet')), '', '', ''])
    lines.push(['Faasm: Proto-Faaslet', cite(published('faasm.pss.proto')), cite(published('faasm.pss.proto')), '', '', ''])
    line('crun', 'crun container, idle (PSS of its processes)', '', '')
    line('container', 'kindling container tier, idle container (MemAvailable drop)', '', '', 'container:avail')
    line('process', 'process tier, idle Node process', '', '')
    line('thread', 'thread tier, idle worker thread', '', '')
    line('wasm-guard', `wasm tier, idle instance (${GUARD}, V8's default)`, '', '')
    line('wasm-bounds', `wasm tier, idle instance (${BOUNDS})`, '', '')
    const bars = lines.filter((l) => !l[0]!.startsWith('Faasm')).map((l) => ({ label: l[0]!, us: parseKib(l[3]!), kind: `kindling ${l[0]!.split(' ')[0]!}` })).filter((b) => Number.isFinite(b.us))
    const pubBars = [
      { label: `Faasm: Docker (PSS) ${RECALLED_MARK}`, us: 1.3 * 1000, kind: 'Faasm (published)' },
      { label: `Faasm: Faaslet (PSS) ${RECALLED_MARK}`, us: 200, kind: 'Faasm (published)' },
      { label: `Faasm: Proto-Faaslet (PSS) ${RECALLED_MARK}`, us: 90, kind: 'Faasm (published)' },
    ]
    const guard = kib(row('wasm-guard:pss'))
    const md = [
      'A sandbox that waits for its next call still holds memory: page tables, a heap, its copy of the function\'s data. Faasm measured PSS (proportional set size: shared pages split among the processes sharing them) and RSS per instance with thousands of Faaslets and hundreds of containers held at once. The stronger the boundary, the less can be shared: a container has its own processes, a Faaslet shares its process, the runtime and the compiled code with every other Faaslet.',
      '',
      mdTable(['idle sandbox', 'Faasm PSS (published)', 'Faasm RSS (published)', 'PSS here', 'RSS here', 'container / this (PSS)'], lines, ['l', 'r', 'r', 'r', 'r', 'r']),
      '',
      mdTable(
        ['ratio', 'Faasm', 'here'],
        [
          ['container / wasm sandbox (PSS)', `Faaslet ${cite(published('faasm.pss.faaslet-ratio'))}, Proto-Faaslet ${cite(published('faasm.pss.proto-ratio'))}`, `guard regions ${ratio(ctr && guard ? ctr / guard : undefined)}, bounds checks ${ratio(ctr && kib(row('wasm-bounds:pss')) ? ctr / kib(row('wasm-bounds:pss'))! : undefined)}`],
        ],
        ['l', 'r', 'r'],
      ),
      '',
      'The sandboxes of one function share a single snapshot of its initial memory, and after a call only the pages that differ from it are rewritten, as Proto-Faaslets restore from one shared snapshot; what an idle sandbox holds on its own is its instance: V8\'s objects and the linear memory pages it has touched.',
      '',
      `After one call, a wasm sandbox holds ${kibText(kib(row('wasm-guard:after-use')))} more (RSS): its memory pages are touched.`,
    ]
    return { markdown: md.join('\n'), figures: bars.length ? [{ file: 'r2-memory.svg', spec: logBars('R2: memory per idle sandbox (PSS)', [...bars, ...pubBars], 'KiB per sandbox (log scale)'), caption: 'R2: PSS per idle sandbox, here and in Faasm' }] : [] }
  },
  disagreements(d) {
    const guard = kib(find(d.rows, 'wasm-guard:pss'))
    const ctr = kib(find(d.rows, 'crun:pss')) ?? kib(find(d.rows, 'container:avail'))
    const out: string[] = []
    if (guard !== undefined && ctr !== undefined && ctr / guard > 15 * 3) out.push(`the memory gap between a container and a wasm sandbox is ${ratio(ctr / guard)} here against Faasm's 15x (READ-secondary): a kindling wasm sandbox idles at ${kibText(guard)} PSS (V8 allocates its linear memory lazily), while a crun container with its own processes costs ${kibText(ctr)} of MemAvailable; Faasm's containers shared one dockerd and its PSS was split among them.`)
    return out
  },
}

function parseKib(s: string): number {
  const m = /([\d.,]+) (KiB|MiB)/.exec(s)
  if (!m) return NaN
  const v = Number(m[1]!.replace(/,/g, ''))
  return m[2] === 'MiB' ? v * 1024 : v
}

const GB32_KIB = (32e9 / 1024)

export const r3: Experiment = {
  id: 'R3',
  title: 'Capacity: how many sandboxes fit',
  origin: 'Faasm (ATC\'20), Table 3: maximum concurrent instances on one 32 GB host',
  run: (ctx) => runDensity(ctx, 'R3'),
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const per = (key: string) => kib(row(`${key}:${key === 'container' ? 'avail' : 'pss'}`))
    const ctrPer = per('crun') ?? per('container')
    const lines: string[][] = []
    for (const [key, label, pub] of [
      ['crun', 'crun container (PSS of its processes)', cite(published('faasm.cap.docker'))],
      ['container', 'kindling container tier (MemAvailable drop)', ''],
      ['process', 'process tier', ''],
      ['thread', 'thread tier', ''],
      ['wasm-bounds', `wasm tier (${BOUNDS})`, cite(published('faasm.cap.faaslet'))],
      ['wasm-guard', `wasm tier (${GUARD})`, cite(published('faasm.cap.proto'))],
    ] as const) {
      const count = row(`${key}:count`)
      const p = per(key)
      if (!count && p === undefined) continue
      const extrapolated = p ? GB32_KIB / p : undefined
      lines.push([label, pub, count ? `${num(count.p50)}${count.note ? ` (${count.note})` : ''}` : '–', p ? num(extrapolated) : '–', ctrPer && p ? ratio(ctrPer / p) : '–'])
    }
    const md = [
      'Capacity is memory per sandbox turned around: how many idle sandboxes one host holds before it runs out of memory or of a kernel limit. Faasm ramped Faaslets up in batches until the 32 GB host gave out, and reports up to 10x more Faaslets than containers (12x with Proto-Faaslets). This machine has 24 GiB and two cores; the count held here is bounded by the run\'s own limits (target count, a 4 GiB MemAvailable margin, a time limit, and per-process limits of V8: address space and vm.max_map_count), so the table also extrapolates each tier\'s per-sandbox memory to Faasm\'s 32 GB.',
      '',
      mdTable(['sandbox', 'Faasm on 32 GB (published)', 'held at once here (why it stopped)', 'extrapolated to 32 GB (from PSS)', 'x containers'], lines, ['l', 'r', 'r', 'r', 'r']),
      '',
      mdTable(['ratio', 'Faasm', 'here (extrapolated)'], [
        ['wasm sandboxes / containers', `Faaslets ${cite(published('faasm.cap.faaslet-ratio'))}, Proto-Faaslets ${cite(published('faasm.cap.proto-ratio'))}`, `guard regions ${ratio(ctrPer && per('wasm-guard') ? ctrPer / per('wasm-guard')! : undefined)}, bounds checks ${ratio(ctrPer && per('wasm-bounds') ? ctrPer / per('wasm-bounds')! : undefined)}`],
      ], ['l', 'r', 'r']),
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
  disagreements(d) {
    const guard = find(d.rows, 'wasm-guard:count')
    const out: string[] = []
    if (guard?.note?.includes('address space') || guard?.note?.includes('max_map_count') || guard?.note?.includes('app hosts')) out.push(`the wasm tier's capacity here is bounded by per-process limits before memory: ${guard.note}. With V8's guard regions each wasm memory reserves ~10 GiB of address space, so a process holds ~13,000 of them; kindling fills several app hosts. Faasm's Faaslets used its own runtime (WAVM) without that reservation.`)
    return out
  },
}
