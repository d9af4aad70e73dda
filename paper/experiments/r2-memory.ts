// R2 and R3 (Faasm ATC'20, Table 3, memory and capacity rows): what one idle sandbox costs in
// memory (PSS and RSS), and how many fit on the machine, per tier. Both come from the bench's
// density scope (one run shared by the two experiments): wasm sandboxes filled into kindling's
// app host program until a limit, the other tiers spawned one by one.
import { cite, published, RECALLED_MARK } from '../published.js'
import { logBars } from '../report/figures.js'
import { find, mdTable, num, ratio } from '../report/markdown.js'
import type { ScopeResult } from '../../bench/lib/scope.js'
import { descendants, sumMemory } from '../../bench/lib/procmem.js'
import fs from 'node:fs'
import path from 'node:path'
import { memAvailableBytes } from '../../bench/lib/env.js'
import { BENCH_FUNCTIONS, wasmPath } from '../../bench/lib/functions.js'
import { artifactFor, createInProcessTiers } from '../../bench/lib/inproc.js'
import { treeMemory } from '../../bench/lib/procmem.js'
import type { Sandbox } from '../../isolation/index.js'
import { type CgroupMemory, cgroupMemory, memoryCgroupOf, ramp, type RampLimits, type RampOutcome, sumCgroups } from './capacity.js'
import { containerKit } from './shared.js'
import { emptyData, type Experiment, type ExperimentData, type Measured, type PaperContext } from './types.js'

const GUARD = 'guard regions'
const BOUNDS = 'explicit bounds checks'

/**
 * The density scope's options. Faasm ramped to the host's limit for capacity, so the full run sets
 * no target of its own (a count no host reaches): the wasm fill stops at a limit of the machine or
 * of the process (address space, vm.max_map_count, MemAvailable margin, the host count) or at the
 * scope's time limit, and says which. --density-target N brings a target back.
 */
function densityOptions(ctx: PaperContext): Record<string, string> {
  return ctx.quick ? { variants: 'guard,bounds' } : { variants: 'guard,bounds', 'density-target': String(ctx.options['density-target'] ?? 100_000_000) }
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

const KIND_LABEL: Record<string, string> = {
  crun: 'crun container, idle (busybox sleep)',
  container: 'kindling container tier, idle container (crun, created ahead)',
  process: 'process tier, idle Node process',
  thread: 'thread tier, idle worker thread',
}

/**
 * R3's ramp, one kind of sandbox after another: start until memory, the kernel's task limit or a
 * failing start stops it, or the time limit (quick: a budget of a few). Memory per sandbox is
 * measured at the end: the containers' cgroups (kernel memory included) for containers, the PSS of
 * the process tree for the process and thread tiers; and the MemAvailable drop for all, kept
 * with its sign.
 */
function capacityRamp(ctx: PaperContext): Promise<{ rows: Measured[]; notes: string[]; method: string[] }> {
  return ctx.shared('capacity-ramp', async () => {
    const rows: Measured[] = []
    const notes: string[] = []
    const limits: RampLimits = ctx.quick
      ? { memFloorBytes: 4 * 2 ** 30, taskHeadroom: 2000, timeLimitMs: 10_000, budget: 3 }
      : { memFloorBytes: Number(ctx.options['margin-gib'] ?? 4) * 2 ** 30, taskHeadroom: 2000, timeLimitMs: Number(ctx.options['ramp-seconds'] ?? 60) * 1000 }
    const kit = await containerKit(ctx)
    const settle = () => new Promise((r) => setTimeout(r, ctx.quick ? 300 : 2000))
    const record = (kind: string, n: number, out: RampOutcome<unknown>, mem: { perKiB?: number; kernelKiB?: number; what: string }, availDropBytes: number) => {
      const label = KIND_LABEL[kind]!
      rows.push({ key: `cap:${kind}:count`, label, system: kind === 'crun' ? 'container' : 'kindling', unit: 'count', n: 1, p50: n, note: out.detail })
      if (mem.perKiB !== undefined) rows.push({ key: `cap:${kind}:per`, label, system: kind === 'crun' ? 'container' : 'kindling', unit: 'KiB', n, p50: mem.perKiB, note: mem.what })
      if (mem.kernelKiB !== undefined) rows.push({ key: `cap:${kind}:kernel`, label, system: kind === 'crun' ? 'container' : 'kindling', unit: 'KiB', n, p50: mem.kernelKiB })
      rows.push({ key: `cap:${kind}:avail`, label, system: kind === 'crun' ? 'container' : 'kindling', unit: 'KiB', n, p50: n ? availDropBytes / n / 1024 : NaN })
    }
    // crun containers held idle, as Faasm held `docker run -di` containers
    if (kit.oci.crun) {
      const ids: string[] = []
      try {
        ctx.progress.step('R3 ramp: idle crun containers')
        const a0 = memAvailableBytes()
        const out = await ramp(async () => {
          const id = await kit.startSleeper('crun', 'bb')
          ids.push(id)
          return id
        }, limits, undefined, (n) => ctx.progress.tick(n, limits.budget ?? 0))
        await settle()
        const drop = a0 - memAvailableBytes()
        const cgs: (CgroupMemory | undefined)[] = []
        for (const id of ids) {
          const pid = await kit.pidOf('crun', id)
          const rel = pid ? memoryCgroupOf(pid) : undefined
          cgs.push(rel && rel !== '/' ? cgroupMemory(rel) : undefined)
        }
        const sum = sumCgroups(cgs)
        record('crun', ids.length, out, sum.counted ? { perKiB: sum.totalBytes / sum.counted / 1024, kernelKiB: sum.kernelBytes / sum.counted / 1024, what: `charged to each container's memory cgroup (${sum.counted} of ${ids.length} found): anon ${kibText(sum.anonBytes / sum.counted / 1024)}, page cache ${kibText(sum.fileBytes / sum.counted / 1024)}, kernel ${kibText(sum.kernelBytes / sum.counted / 1024)}` } : { what: 'no memory cgroup found for the containers' }, drop)
      } finally {
        for (const id of ids) await kit.stopSleeper('crun', id)
      }
    } else notes.push('crun ramp: crun is not available')
    // kindling's own tiers through the tier API
    const inproc = await createInProcessTiers(path.join(ctx.workDir, 'capacity-tiers'), { spareAppHosts: 0 })
    try {
      const echo = BENCH_FUNCTIONS.find((f) => f.name === 'echo')!
      for (const name of ['container', 'process', 'thread'] as const) {
        // containers on the kit's container tier: its image store holds the paper's busybox image
        const tier = name === 'container' ? kit.tier : inproc.tiers.get(name)
        const dataDir = name === 'container' && kit.inproc ? kit.inproc.dataDir : inproc.dataDir
        const why = tier ? tier.unavailableReason() : name === 'container' ? kit.unavailable ?? 'not registered' : 'not registered'
        if (!tier || why) {
          notes.push(`${name} ramp: skipped: ${why}`)
          continue
        }
        if (ctx.shouldStop()) {
          notes.push(`${name} ramp: not run (time budget of the quick run)`)
          continue
        }
        const wasm = tier.capabilities.artifactKinds.includes('wasm-module')
        const prepared = await tier.prepare(artifactFor(dataDir, wasm ? { name: `cap-${name}`, tier: name, wasm: fs.readFileSync(wasmPath(ctx.repoRoot, echo)) } : { name: `cap-${name}`, tier: name, image: kit.refs.bb, envProcess: 'cat' }))
        const sandboxes: Sandbox[] = []
        try {
          ctx.progress.step(`R3 ramp: ${name} tier`)
          // one sandbox first: the app host (thread tier) exists before the baseline
          sandboxes.push(await tier.spawn(prepared, { sandboxId: `cap-${name}-0` }))
          await settle()
          const parent = name === 'container' ? (tier as unknown as { naming?: { cgroupParent(): string } }).naming?.cgroupParent() : undefined
          const cg0 = parent ? cgroupMemory(parent) : undefined
          const tree0 = treeMemory(process.pid)
          const a0 = memAvailableBytes()
          const out = await ramp(async (i) => {
            const sb = await tier.spawn(prepared, { sandboxId: `cap-${name}-${i + 1}` })
            sandboxes.push(sb)
            return sb
          }, limits, undefined, (n) => ctx.progress.tick(n, limits.budget ?? 0))
          await settle()
          const n = out.items.length
          const drop = a0 - memAvailableBytes()
          if (name === 'container') {
            const cg1 = parent ? cgroupMemory(parent) : undefined
            record(name, n, out, cg0 && cg1 && n ? { perKiB: (cg1.totalBytes - cg0.totalBytes) / n / 1024, kernelKiB: (cg1.kernelBytes - cg0.kernelBytes) / n / 1024, what: `charged to kindling's container cgroup ${parent} (its containers' cgroups below it), marginal per container, kernel memory included` } : { what: `no memory cgroup ${parent ?? ''} found` }, drop)
          } else {
            const tree1 = treeMemory(process.pid)
            record(name, n, out, n ? { perKiB: (tree1.pssKiB - tree0.pssKiB) / n, what: 'PSS of this process tree, marginal per sandbox (kernel memory of the processes not included)' } : { what: 'none started' }, drop)
          }
        } finally {
          await Promise.all(sandboxes.map((sb) => sb.dispose('shutdown').catch(() => {})))
          await tier.release(prepared).catch(() => {})
        }
      }
    } finally {
      await inproc.close()
    }
    const method = [
      `capacity ramp (paper/experiments/capacity.ts): for each kind of sandbox, start one after another until MemAvailable falls under a ${(limits.memFloorBytes / 2 ** 30).toFixed(0)} GiB margin, the machine's tasks come within ${limits.taskHeadroom} of the kernel's limit (min of pid_max and threads-max), a start fails, or ${ctx.quick ? `a quick-mode budget of ${limits.budget} sandboxes (or ${limits.timeLimitMs / 1000} s)` : `the run's time limit of ${limits.timeLimitMs / 1000} s per kind (--ramp-seconds)`}; the table says which stopped it`,
      'container memory: what the kernel charges to the containers\' memory cgroups (cgroup v1: memory.usage_in_bytes with memory.kmem.usage_in_bytes as its kernel part; v2: memory.current and memory.stat), so kernel memory (stacks, page tables, slab for the namespaces and mounts) counts; the first container that reads a shared file is charged its page cache',
      'MemAvailable drop per sandbox: (MemAvailable before - after) / count, kept with its sign; on a shared machine other work moves MemAvailable by more than a few idle containers take, and a negative drop is reported as a failed measurement, not dropped',
    ]
    return { rows, notes, method }
  })
}

async function runDensity(ctx: PaperContext, id: string): Promise<ExperimentData> {
  const data = emptyData(id)
  const s = await ctx.scope('density', densityOptions(ctx))
  const cap = await capacityRamp(ctx)
  data.rows = [...densityRows(s), ...(await crunIdleMemory(ctx)), ...cap.rows]
  data.notes.push(...cap.notes)
  if (s.status !== 'ok') {
    data.status = data.rows.length ? 'partial' : 'failed'
    data.reason = `density scope: ${s.status} ${s.reason ?? ''}`.trim()
  }
  data.notes.push(...s.notes.filter((n) => !n.startsWith('per-call')))
  data.method.push(
    `bench scope \`density\` (${Object.entries(densityOptions(ctx)).map(([k, v]) => `--${k} ${v}`).join(' ')}): the AssemblyScript echo function; wasm sandboxes are spawned into kindling's app host program over its own protocol (256 in flight) until the target, a limit of the process (address space, vm.max_map_count) or the MemAvailable safety margin; thread, process and container sandboxes are spawned one after another through the tier API (${ctx.quick ? '1' : '100 / 50 / 50'})`,
    'memory: RSS and PSS summed over the processes that hold the sandboxes, from /proc/<pid>/smaps_rollup, marginal = (full - the same processes with the function loaded and no sandbox) / sandboxes, measured once the sandboxes are idle (Faasm sampled at 50/75/90% of a 25 s sleep; here the sandboxes are idle, not sleeping inside a call)',
    'containers: idle crun containers (busybox sleep, the kit\'s bundle, as Faasm held `docker run -di` containers): the PSS and RSS of their processes, and what their cgroups are charged (below); Faasm summed PSS over dockerd and its children',
    ...cap.method,
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

/**
 * What an idle container costs: the PSS of its processes plus the kernel memory charged to its
 * cgroup (namespaces, mounts, page tables, stacks). The cgroup's own total is no better: shared
 * file pages (busybox) are charged only to the container that read them first. A lower bound:
 * what the runtime allocates before the container's process joins its cgroup is charged elsewhere.
 */
export function containerFootprint(rows: readonly Measured[]): number | undefined {
  const pss = kib(find(rows, 'crun:pss'))
  const kernel = kib(find(rows, 'cap:crun:kernel'))
  return pss === undefined ? kib(find(rows, 'cap:crun:per')) : pss + (kernel ?? 0)
}

/** Kilobytes and megabytes as Faasm prints them (10^3 and 10^6 bytes) from KiB. */
export function kbText(kibValue: number | undefined): string {
  if (kibValue === undefined || !Number.isFinite(kibValue)) return '–'
  const kb = (kibValue * 1024) / 1000
  return kb >= 1000 ? `${num(kb / 1000)} MB` : `${num(kb)} KB`
}

/**
 * A MemAvailable drop per sandbox as a cell: a negative drop (MemAvailable rose while sandboxes
 * were added) is a failed measurement and says so, with its value, instead of vanishing.
 */
export function availCell(m: Measured | undefined): string {
  if (!m || !Number.isFinite(m.p50)) return '–'
  const v = m.unit === 'MiB' ? m.p50 * 1024 : m.p50
  if (v <= 0) return `FAILED: MemAvailable rose by ${kbText(-v)} per sandbox over ${m.n} (other work on the machine moved it more than the sandboxes did)`
  return kbText(v)
}

export const r2: Experiment = {
  id: 'R2',
  title: 'Memory per idle sandbox',
  origin: 'Faasm (ATC\'20), Table 3: PSS and RSS per instance',
  suiteRepeat: false,
  run: (ctx) => runDensity(ctx, 'R2'),
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const ctr = containerFootprint(d.rows)
    const lines: string[][] = []
    const line = (label: string, pss: number | undefined, rss: number | undefined, charged: string, avail: string) => {
      if (pss === undefined && rss === undefined && charged === '–' && avail === '–') return
      lines.push([label, '', '', kbText(pss), kbText(rss), charged, avail, ctr && (pss ?? undefined) ? ratio(ctr / pss!) : '–'])
    }
    const chargedCell = (kind: string) => {
      const per = kib(row(`cap:${kind}:per`))
      const k = kib(row(`cap:${kind}:kernel`))
      return per === undefined ? '–' : `${kbText(per)}${k !== undefined ? ` (kernel ${kbText(k)})` : ''}`
    }
    lines.push(['Faasm: Docker container', cite(published('faasm.pss.docker')), cite(published('faasm.rss.docker')), '', '', '', '', ''])
    lines.push(['Faasm: Faaslet', cite(published('faasm.pss.faaslet')), cite(published('faasm.pss.faaslet')), '', '', '', '', ''])
    lines.push(['Faasm: Proto-Faaslet', cite(published('faasm.pss.proto')), cite(published('faasm.pss.proto')), '', '', '', '', ''])
    line(KIND_LABEL.crun!, kib(row('crun:pss')), kib(row('crun:rss')), chargedCell('crun'), availCell(row('cap:crun:avail')))
    line(KIND_LABEL.container!, undefined, undefined, chargedCell('container'), availCell(row('cap:container:avail') ?? row('container:avail')))
    line('process tier, idle Node process', kib(row('process:pss')), kib(row('process:rss')), '–', availCell(row('cap:process:avail')))
    line('thread tier, idle worker thread', kib(row('thread:pss')), kib(row('thread:rss')), '–', availCell(row('cap:thread:avail')))
    line(`wasm tier, idle instance (${GUARD}, V8's default)`, kib(row('wasm-guard:pss')), kib(row('wasm-guard:rss')), '–', '–')
    line(`wasm tier, idle instance (${BOUNDS})`, kib(row('wasm-bounds:pss')), kib(row('wasm-bounds:rss')), '–', '–')
    const bars = lines
      .filter((l) => !l[0]!.startsWith('Faasm'))
      .map((l) => ({ label: l[0]!, us: parseKb(l[3]!) || parseKb(l[5]!), kind: l[0]!.includes('container') ? 'container' : 'kindling, in-process' }))
      .filter((b) => Number.isFinite(b.us) && b.us > 0)
    const pubBars = [
      { label: `Faasm: Docker (PSS) ${RECALLED_MARK}`, us: 1.3 * 1000, kind: `Faasm (published, recalled ${RECALLED_MARK})` },
      { label: `Faasm: Faaslet (PSS) ${RECALLED_MARK}`, us: 200, kind: `Faasm (published, recalled ${RECALLED_MARK})` },
      { label: `Faasm: Proto-Faaslet (PSS) ${RECALLED_MARK}`, us: 90, kind: `Faasm (published, recalled ${RECALLED_MARK})` },
    ]
    const guard = kib(row('wasm-guard:pss'))
    const avail = row('cap:container:avail') ?? row('container:avail')
    const md = [
      'A sandbox that waits for its next call still holds memory: page tables, a heap, its copy of the function\'s data. Faasm measured PSS (proportional set size: shared pages split among the processes sharing them) and RSS per instance with thousands of Faaslets and hundreds of containers held at once. The stronger the boundary, the less can be shared: a container has its own processes, a Faaslet shares its process, the runtime and the compiled code with every other Faaslet.',
      '',
      'Units as Faasm prints them: KB and MB, read as 10^3 and 10^6 bytes (the kernel counts KiB; 1 KiB = 1.024 KB). A container\'s cost is mostly outside its processes (namespaces, mounts, its cgroup, page tables), so besides the PSS of its processes the table gives what the kernel charges to its memory cgroup, kernel memory included.',
      '',
      mdTable(['idle sandbox', 'Faasm PSS (published)', 'Faasm RSS (published)', 'PSS here', 'RSS here', 'charged to its cgroup here', 'MemAvailable drop here', 'container (PSS + kernel) / this (PSS)'], lines, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
      '',
      ...(avail && avail.p50 <= 0 ? [`The MemAvailable column is the method the previous version of this report used for kindling's container tier, and it failed in this run: MemAvailable rose while containers were added. Earlier versions dropped the negative value and showed another row instead; it is kept here, and the cgroup column replaces it as the measurement.`, ''] : []),
      mdTable(
        ['ratio', 'Faasm', 'here'],
        [
          ['container / wasm sandbox (PSS)', `Faaslet ${cite(published('faasm.pss.faaslet-ratio'))}, Proto-Faaslet ${cite(published('faasm.pss.proto-ratio'))}`, `guard regions ${ratio(ctr && guard ? ctr / guard : undefined)}, bounds checks ${ratio(ctr && kib(row('wasm-bounds:pss')) ? ctr / kib(row('wasm-bounds:pss'))! : undefined)} (container: ${kib(row('cap:crun:kernel')) !== undefined ? 'PSS of its processes + kernel memory of its cgroup' : 'PSS of its processes'})`],
        ],
        ['l', 'r', 'r'],
      ),
      '',
      'The sandboxes of one function share a single snapshot of its initial memory, and after a call only the pages that differ from it are rewritten, as Proto-Faaslets restore from one shared snapshot; what an idle sandbox holds on its own is its instance: V8\'s objects and the linear memory pages it has touched.',
      '',
      `After one call, a wasm sandbox holds ${kbText(kib(row('wasm-guard:after-use')))} more (RSS): its memory pages are touched.`,
    ]
    return { markdown: md.join('\n'), figures: bars.length ? [{ file: 'r2-memory.svg', spec: logBars('R2: memory per idle sandbox (PSS; containers: cgroup-charged when PSS is missing)', [...bars, ...pubBars], 'KB per sandbox (10^3 bytes, log scale)'), caption: `R2: memory per idle sandbox, here and in Faasm (${RECALLED_MARK}: recalled figure)` }] : [] }
  },
  disagreements(d) {
    const guard = kib(find(d.rows, 'wasm-guard:pss'))
    const ctr = containerFootprint(d.rows)
    const out: string[] = []
    if (guard !== undefined && ctr !== undefined && ctr / guard > 15 * 3) out.push(`the memory gap between a container and a wasm sandbox is ${ratio(ctr / guard)} here against Faasm's 15x (READ-secondary). Evidence: a kindling wasm sandbox idles at ${kbText(guard)} PSS (V8 allocates its linear memory lazily), while an idle crun container costs ${kbText(ctr)} (the PSS of its processes plus the kernel memory charged to its cgroup; R2's table); Faasm's containers shared one dockerd and its PSS was split among them.`)
    const avail = find(d.rows, 'cap:container:avail') ?? find(d.rows, 'container:avail')
    if (avail && avail.p50 <= 0) out.push(`kindling's container tier: the MemAvailable drop per container came out negative (${availCell(avail)}), so that method cannot measure a container on this machine; the cgroup-charged figure (R2's table; in runs that measured it) replaces it.`)
    return out
  },
}

function parseKb(s: string): number {
  const m = /([\d.,]+) (KB|MB)/.exec(s)
  if (!m) return NaN
  const v = Number(m[1]!.replace(/,/g, ''))
  return m[2] === 'MB' ? v * 1000 : v
}

export const r3: Experiment = {
  id: 'R3',
  title: 'Capacity: how many sandboxes fit',
  origin: 'Faasm (ATC\'20), Table 3: maximum concurrent instances on one 32 GB host',
  suiteRepeat: false,
  run: (ctx) => runDensity(ctx, 'R3'),
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const lines: string[][] = []
    const stopNote = (m: Measured | undefined) => (m?.note ?? '').replace(/^stopped: /, '')
    for (const [kind, pub] of [['crun', cite(published('faasm.cap.docker'))], ['container', ''], ['process', ''], ['thread', '']] as const) {
      const count = row(`cap:${kind}:count`)
      if (!count) continue
      const per = kib(row(`cap:${kind}:per`))
      lines.push([KIND_LABEL[kind]!, pub, Math.round(count.p50).toLocaleString('en-US'), stopNote(count), per !== undefined ? `${kbText(per)} (${row(`cap:${kind}:per`)?.note?.startsWith('PSS') ? 'PSS' : 'cgroup, kernel included'})` : '–'])
    }
    for (const [key, label, pub] of [
      ['wasm-bounds', `wasm tier (${BOUNDS})`, cite(published('faasm.cap.faaslet'))],
      ['wasm-guard', `wasm tier (${GUARD})`, cite(published('faasm.cap.proto'))],
    ] as const) {
      const count = row(`${key}:count`)
      if (!count) continue
      lines.push([label, pub, Math.round(count.p50).toLocaleString('en-US'), stopNote(count) || '–', kib(row(`${key}:pss`)) !== undefined ? `${kbText(kib(row(`${key}:pss`)))} (PSS)` : '–'])
    }
    const machine = (m: Measured | undefined) => !!m?.note && /^(memory|tasks|a start failed)|address space|max_map_count|MemAvailable/.test(stopNote(m))
    const wasmCount = row('wasm-guard:count')
    const ctrCount = row('cap:crun:count')
    const both = machine(wasmCount) && machine(ctrCount)
    const md = [
      'Capacity is memory per sandbox turned around: how many idle sandboxes one host holds before it runs out of memory or of a kernel limit. Faasm ramped Faaslets up in batches until the 32 GB host gave out, and reports up to 10x more Faaslets than containers (12x with Proto-Faaslets). Here each kind of sandbox is started one after another until a limit stops it: MemAvailable under a safety margin, the kernel\'s task limit, a start that fails, or, when none of those comes first, the run\'s time limit; the table says which, and only a machine limit makes a count a capacity. Nothing is extrapolated.',
      '',
      mdTable(['sandbox', 'Faasm on 32 GB (published)', 'held at once here', 'what stopped the ramp', 'memory per sandbox'], lines, ['l', 'r', 'r', 'l', 'r']),
      '',
      mdTable(['ratio', 'Faasm', 'here'], [
        ['wasm sandboxes / containers held', `Faaslets ${cite(published('faasm.cap.faaslet-ratio'))}, Proto-Faaslets ${cite(published('faasm.cap.proto-ratio'))}`, both && wasmCount && ctrCount ? ratio(wasmCount.p50 / ctrCount.p50) : 'not a capacity ratio: at least one ramp stopped at the run\'s own limit (time or quick budget), not the machine\'s'],
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
