// R1 (Faasm ATC'20, Table 3, first two rows): how long a no-op function takes to start in a fresh
// sandbox, and what CPU time that start costs, on every kindling tier and on the OCI runtimes and
// engines installed here. In-process starts come from the shared mechanisms measurement; the same
// starts end to end over HTTP come from the bench's coldstart scope.
import { correctCycles, correctedRatio, FAASM_HZ, FAASM_SCRIPT } from '../faasm-cycles.js'
import { cite, published, RECALLED_MARK } from '../published.js'
import { find, mdTable, measured, num, ratio, ratioOf, time, us } from '../report/markdown.js'
import { kindOf, logBars } from '../report/figures.js'
import { mechanisms } from './shared.js'
import { emptyData, type Experiment, type ExperimentData, type Measured } from './types.js'

/** kindling's fresh-sandbox starts, in-process; the fastest is the headline. */
export const FRESH_KEYS = ['k-inline-new', 'k-wasm-new', 'k-thread-new', 'k-process-new', 'k-container-oneshot'] as const

export function fastestFresh(rows: readonly Measured[]): Measured | undefined {
  return rows.filter((r) => (FRESH_KEYS as readonly string[]).includes(r.key)).sort((a, b) => us(a) - us(b))[0]
}

const HTTP_ROWS: [string, string, string][] = [
  ['inline / noop', 'instance-cold http', 'http:inline-new'],
  ['wasm / noop', 'instance-cold http', 'http:wasm-new'],
  ['inline / noop', 'warm http', 'http:inline-warm'],
  ['wasm / noop', 'warm http', 'http:wasm-warm'],
]

export const r1: Experiment = {
  id: 'R1',
  title: 'No-op start time and its CPU cost',
  origin: 'Faasm (ATC\'20), Table 3: initialisation time and CPU cycles of a no-op',
  async run(ctx) {
    const data = emptyData('R1')
    const m = await mechanisms(ctx)
    data.rows.push(...m.rows, ...m.cpu)
    data.method.push(...m.method)
    data.notes.push(...m.notes)
    data.skipped.push(...m.skipped)
    const cs = await ctx.scope('coldstart', { functions: 'noop', tiers: 'inline,wasm' })
    for (const [group, name, key] of HTTP_ROWS) {
      const r = cs.rows.find((x) => x.group === group && x.name === name)
      if (r) data.rows.push({ key, label: `${group.split(' ')[0]}: ${name === 'warm http' ? 'call on an instance already restored' : 'new instance per call'}, over HTTP`, system: 'kindling', unit: r.unit, n: r.n, p50: r.p50, p99: r.p99, mean: r.mean, ci95: r.ci95, rounds: undefined })
    }
    if (cs.status !== 'ok') data.skipped.push(`coldstart scope: ${cs.status} ${cs.reason ?? ''}`)
    data.method.push('over HTTP: bench scope `coldstart` (functions noop, tiers inline and wasm): one keep-alive connection to a gateway in its own process, request sent to last response byte; "new instance per call" is a function deployed with com.kindling.reset=reinstantiate com.kindling.prewarm=false, checked to instantiate on every call\'s critical path')
    if (!fastestFresh(data.rows)) data.status = 'failed'
    return data
  },
  render(d, r) {
    const row = (k: string) => find(d.rows, k)
    const best = fastestFresh(d.rows)
    // the Proto-Faaslet's analogue has its restore on the critical path (k-inline-restore)
    const proto = restoreRow(d.rows)
    const start = (k: string, pub = '') => {
      const m = row(k)
      return m ? [m.label, pub, measured(m), m.mean !== undefined ? time(us(m, m.mean)) : '–', ratio(ratioOf(m, best))] : undefined
    }
    const lines = [
      start('c-docker-run-net-bb', cite(published('faasm.init.docker'))),
      start('c-docker-run-bb', row('c-docker-run-net-bb') ? '' : cite(published('faasm.init.docker'))),
      start('c-podman-run-net-bb'),
      start('c-podman-run-bb'),
      start('c-runsc-run-bb'),
      start('c-runc-run-bb'),
      start('c-crun-run-bb'),
      start('c-runc-cs-bb'),
      start('c-crun-cs-bb'),
      start('k-container-oneshot'),
      start('k-container-ahead'),
      start('k-process-new'),
      start('k-process-spare'),
      start('k-thread-new'),
      start('k-thread-spare'),
      start('h-spawn-true'),
      start('http:wasm-new'),
      start('http:inline-new'),
      start('k-wasm-new', cite(published('faasm.init.faaslet'))),
      start('k-inline-new', cite(published('faasm.init.faaslet'))),
      start('p-wasm'),
      start('http:wasm-warm'),
      start('http:inline-warm'),
      start('k-inline-restore', cite(published('faasm.init.proto'))),
      start('k-wasm-warm'),
      start('k-inline-warm'),
    ].filter((x): x is string[] => !!x)
    // Faasm's docker run had the default bridge network: pair it with that row when it ran
    const docker = row('c-docker-run-net-bb') ?? row('c-docker-run-bb')
    const crun = row('c-crun-run-bb')
    const faasmFresh = 2800 / 5.2
    const ratios = [
      ['container start / fresh wasm sandbox', `${num(faasmFresh)}x (2.8 s / 5.2 ms) ${RECALLED_MARK}`, `docker ${ratio(ratioOf(docker, best))}, crun ${ratio(ratioOf(crun, best))}`],
      ['container start / snapshot-restored sandbox', `${cite(published('faasm.init.proto-vs-docker'))} (READ-secondary)`, `docker ${ratio(ratioOf(docker, proto))}, crun ${ratio(ratioOf(crun, proto))}`],
      ['fresh sandbox / snapshot-restored sandbox (restore on the critical path)', `${num(5.2 / 0.5)}x (5.2 / 0.5 ms) ${RECALLED_MARK}`, ratio(ratioOf(best, proto))],
    ]
    const cpu = d.rows.filter((x) => x.key.startsWith('cpu:') || x.key.startsWith('cpu-machine:'))
    const hz = Number(/([\d.]+) GHz/.exec(d.method.join(' '))?.[1] ?? NaN) * 1e9
    const cpuRow = (k: string, pub = '') => {
      const c = find(cpu, `cpu:${k}`)
      const machine = find(cpu, `cpu-machine:${k}`)
      const daemons = k.startsWith('c-docker') || k.startsWith('c-podman')
      return c ? [c.label, pub, `${time(us(c))}${daemons ? ' (without the daemons)' : ''}`, machine ? (machine.note?.startsWith('lower bound') || us(machine) < us(c) ? `≥ ${time(Math.max(us(machine), us(c)))}` : time(us(machine))) : '–', Number.isFinite(hz) ? `~${num((us(daemons && machine ? machine : c) / 1e6) * hz)}` : '–', c.note ?? ''] : undefined
    }
    const cpuLines = [
      cpuRow('c-docker-run-bb', cite(published('faasm.cpu.docker'))),
      cpuRow('c-podman-run-bb'),
      cpuRow('c-runsc-run-bb'),
      cpuRow('c-runc-run-bb'),
      cpuRow('c-crun-run-bb'),
      cpuRow('k-container-oneshot'),
      cpuRow('k-process-new'),
      cpuRow('k-thread-new'),
      cpuRow('k-wasm-new', cite(published('faasm.cpu.faaslet'))),
      cpuRow('k-inline-new', cite(published('faasm.cpu.faaslet'))),
      cpuRow('p-wasm'),
      cpuRow('k-inline-restore', cite(published('faasm.cpu.proto'))),
      cpuRow('k-wasm-warm'),
      cpuRow('k-inline-warm'),
    ].filter((x): x is string[] => !!x)
    const cpuBest = best ? find(cpu, `cpu:${best.key}`) : undefined
    const cpuDocker = find(cpu, 'cpu-machine:c-docker-run-bb')
    const cpuCrun = find(cpu, 'cpu:c-crun-run-bb')
    const pubPoints = [
      { label: `Faasm: Docker container (published mean) ${RECALLED_MARK}`, us: 2.8e6, kind: `Faasm (published, recalled ${RECALLED_MARK})` },
      { label: `Faasm: Faaslet (published mean) ${RECALLED_MARK}`, us: 5200, kind: `Faasm (published, recalled ${RECALLED_MARK})` },
      { label: `Faasm: Proto-Faaslet (published mean) ${RECALLED_MARK}`, us: 500, kind: `Faasm (published, recalled ${RECALLED_MARK})` },
    ]
    const figure = logBars('R1: no-op start, median with 95% CI (tick: p99)', lines.length ? [...d.rows.filter((x) => !x.key.startsWith('cpu') && !x.key.includes('exec') && !x.key.includes('-node')).map((x) => ({ label: x.label, us: us(x), lo: x.ci95 ? us(x, x.ci95[0]) : undefined, hi: x.ci95 ? us(x, x.ci95[1]) : undefined, p99: x.p99 !== undefined ? us(x, x.p99) : undefined, kind: kindOf(x.key, x.system) })), ...pubPoints] : [])
    const md = [
      'Faasm\'s Table 3 starts a function that does nothing (`int main(){return 0;}`) many times in a row and divides the wall time, and the CPU cycles of the whole machine, by the number of starts (so its times are means, not medians). It compares a Docker container, a Faaslet (a new WebAssembly sandbox in a running process) and a Proto-Faaslet (a Faaslet restored from a snapshot of its initialised memory). The gap between them is the price of isolation strength: a container gets its own kernel namespaces, cgroups and root filesystem.',
      '',
      'The isolation compared is not equal. A Faaslet is more than its linear memory: Faasm gives each Faaslet a CPU cgroup and its own network namespace (Faasm §3.1; its benchmark instructions set the namespaces up first, `sudo ./bin/netns.sh`, faasm/faasm docs/benchmarks.md). kindling\'s inline and wasm sandboxes have neither: their boundary is the linear memory and the WASI capabilities they are given. A kindling wasm sandbox start is therefore a lower bound of what a Faaslet start would cost here.',
      '',
      'Container rows, which is which: `run` rows time the whole life of the container (create, start, the no-op, its exit and the delete: teardown included); `create + start (run --detach)` rows stop the clock when the runtime has started the container, and its exit and delete are not timed. Engine rows run with `--network none` (a network namespace with only loopback, as every OCI row here) unless marked "default networking", which is the engine\'s bridge with a veth pair per container, as Faasm\'s plain `docker run` had (podman only: the benchmark\'s dockerd has no bridge, so as not to change the host\'s network); Faasm\'s published figure sits on the docker row, which here has no network but loopback.',
      '',
      `Here the same no-op (functions/c/noop.c compiled to wasm32-wasi for kindling's wasm tiers, busybox \`true\` in a container) starts on each of kindling's tiers and on the container runtimes installed. Like is paired with like: Faasm's Faaslet with kindling's new sandbox (a new instance, then the call), Faasm's Proto-Faaslet with kindling's snapshot restore **on the critical path** (restore the initial memory, then the call: row "restore the snapshot, then call"). kindling's default restores the memory after each call, off the critical path; the rows "call on an instance already restored" time only the call that follows such a restore, so they leave the restore out and are not compared with any published figure. The wasm tier restores inside its app host process after the reply, which the tier API cannot put on the critical path, so only the inline tier has the restore row.`,
      '',
      mdTable(['what starts', 'Faasm (published; a mean)', 'here: median [95% CI], p99', 'mean here', `x kindling's fastest fresh sandbox`], lines, ['l', 'r', 'r', 'r', 'r']),
      '',
      `Ratios (these compare across machines; the absolute times do not):`,
      '',
      mdTable(['ratio', 'Faasm', 'here'], ratios, ['l', 'r', 'r']),
      '',
      `CPU cost per start:`,
      '',
      mdTable(['what starts', 'Faasm cycles (published, as printed)', 'CPU time, process tree', 'CPU time, whole machine', 'cycles (estimate)', 'loop'], cpuLines, ['l', 'r', 'r', 'r', 'r', 'l']),
      '',
      'The process-tree column counts this benchmark and every process below it (other work on the machine does not enter it); the whole-machine column is Faasm\'s method and the only one that sees dockerd, containerd and podman\'s conmon, so the cycle estimate uses it for the engines. The machine\'s busy time includes the tree\'s, so it cannot be lower: where the idle rate subtracted from it overshot (the background measured just before the loop was busier than during it), the cell shows the tree\'s time as a lower bound, marked ≥.',
      '',
      `CPU ratio container / kindling's fastest fresh sandbox: docker ${ratio(ratioOf(cpuDocker, find(cpu, `cpu-machine:${best?.key}`)))} (whole machine), crun ${ratio(ratioOf(cpuCrun, cpuBest))} (process tree).`,
      '',
      ...dividedTwice(),
    ]
    return { markdown: md.join('\n'), figures: lines.length ? [{ file: 'r1-noop-start.svg', spec: figure, caption: `R1: no-op start per mechanism (log scale; ${RECALLED_MARK}: recalled published figure)` }] : [] }
  },
  disagreements,
}

/** kindling's Proto-Faaslet analogue: the snapshot restore on the critical path, then the call. */
export function restoreRow(rows: readonly Measured[]): Measured | undefined {
  return find(rows, 'k-inline-restore')
}

/** The paragraph on Faasm's CPU cells, with the script lines quoted and the arithmetic done. */
export function dividedTwice(): string[] {
  const cells = correctCycles(
    [
      { name: 'Docker', cycles: published('faasm.cpu.docker').value!, wallS: published('faasm.init.docker').value! / 1000, n: 10 },
      { name: 'Faaslet', cycles: published('faasm.cpu.faaslet').value!, wallS: published('faasm.init.faaslet').value! / 1000, n: 10_000 },
      { name: 'Proto-Faaslet', cycles: published('faasm.cpu.proto').value!, wallS: published('faasm.init.proto').value! / 1000, n: 10_000 },
    ],
    FAASM_HZ,
  )
  const printed = published('faasm.cpu.proto-vs-docker').value!
  const e = FAASM_SCRIPT.earlier
  return [
    `**Faasm's CPU cells are divided by N twice.** The script that wrote Table 3's CSV (${FAASM_SCRIPT.repo} \`${FAASM_SCRIPT.path}\` at ${FAASM_SCRIPT.commit.slice(0, 12)}) runs each benchmark N times under \`perf stat -x, -e cycles,instructions -a\`, with`,
    '',
    '```python',
    FAASM_SCRIPT.iterations,
    '```',
    '',
    'and writes the cycles as',
    '',
    '```python',
    FAASM_SCRIPT.cycles,
    '```',
    '',
    'so the `ValuePerIteration` column holds cycles / N / N, while the elapsed time is divided once:',
    '',
    '```python',
    FAASM_SCRIPT.time,
    '```',
    '',
    `If the published cells are that column, one start costs the cell x N. At Faasm's 2.6 GHz clock that reads (cores busy = cycles / (wall time x clock)):`,
    '',
    mdTable(
      ['row', 'cycles as printed', 'N', 'cycles x N', 'cores busy, as printed', 'cores busy, x N'],
      cells.map((c) => [c.name, `${num(c.cycles)} ${RECALLED_MARK}`, c.n.toLocaleString('en-US'), num(c.corrected), num(c.coresAsPrinted), num(c.coresCorrected)]),
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Multiplied back, the Faaslet row keeps about one core busy for its ${published('faasm.init.faaslet').text} start, which fits a start on one thread; the Proto-Faaslet row would keep ${num(cells[2]!.coresCorrected)} cores busy for the whole ${published('faasm.init.proto').text}, which fits only if restores overlapped (Faasm's benchmark binary starts a thread per iteration), so that cell x N is not one restore's cost either; as printed, no row is a plausible per-start cost (${num(cells[1]!.coresAsPrinted)} and ${num(cells[2]!.coresAsPrinted)} of a core for the Faaslet and the Proto-Faaslet). The Docker row (N = 10) is low by the same rule: as printed, \`docker run\` would use ${num(cells[0]!.coresAsPrinted * 100)}% of one core for 2.8 s (R1's CPU table above gives what a docker run costs here); x 10 it is ${num(cells[0]!.coresCorrected)} core. The printed Docker / Proto-Faaslet ratio, ${cite(published('faasm.cpu.proto-vs-docker'))}, therefore does not hold as printed: each cell is its true value / its own N, so the true ratio is the printed one x N_docker / N_faasm = ${num(correctedRatio(printed, 10, 10_000))}x with these N (${num(correctedRatio(printed, e.docker, e.faasm))}x with the ${e.docker} and ${e.faasm} iterations of the earlier version, \`${e.path}\` at ${e.commit.slice(0, 12)}). Which N produced the published cells is not in the paper; this report compares wall times and CPU times, and quotes no cycle ratio as holding.`,
  ]
}

function disagreements(d: ExperimentData): string[] {
  const best = fastestFresh(d.rows)
  const out: string[] = []
  const cpuBest = best ? find(d.rows, `cpu:${best.key}`) : undefined
  if (cpuBest && us(cpuBest) > 1) {
    out.push(`CPU cost: Faasm's table prints 1.4K cycles ${RECALLED_MARK} per Faaslet start and 650 ${RECALLED_MARK} per Proto-Faaslet start, well under a microsecond of CPU; kindling's fastest fresh sandbox costs ${time(us(cpuBest))} of CPU here. Evidence that the printed cells are not per start: Faasm's tasks/bench_time.py divides the cycle count by N twice (quoted in R1), so a cell x N (10,000) is one start's cycles: 14M for a Faaslet, 5.4 ms of CPU at 2.6 GHz, the same order as the 5.2 ms it takes. The printed 386K x Docker / Proto-Faaslet cycle ratio becomes ~386x once both cells are multiplied back by their own N; only wall-time ratios are compared here.`)
  }
  const restore = restoreRow(d.rows)
  if (best && restore) out.push(`Isolation is not equal: a Faaslet carries a CPU cgroup and a network namespace (Faasm §3.1), kindling's inline and wasm sandboxes do not, so kindling's ${time(us(best))} fresh start and ${time(us(restore))} restore + call are lower bounds of what a Faaslet and a Proto-Faaslet would cost on this machine, not a like-for-like win.`)
  return out
}
