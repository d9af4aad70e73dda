// R1 (Faasm ATC'20, Table 3, first two rows): how long a no-op function takes to start in a fresh
// sandbox, and what CPU time that start costs, on every kindling tier and on the OCI runtimes and
// engines installed here. In-process starts come from the shared mechanisms measurement; the same
// starts end to end over HTTP come from the bench's coldstart scope.
import { cite, published, RECALLED_MARK } from '../published.js'
import { find, mdTable, measured, num, ratio, ratioOf, time, us } from '../report/markdown.js'
import { logBars } from '../report/figures.js'
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
      if (r) data.rows.push({ key, label: `${group.split(' ')[0]}: ${name === 'warm http' ? 'call on a clean instance' : 'new instance per call'}, over HTTP`, system: 'kindling', unit: r.unit, n: r.n, p50: r.p50, p99: r.p99, ci95: r.ci95, rounds: undefined })
    }
    if (cs.status !== 'ok') data.skipped.push(`coldstart scope: ${cs.status} ${cs.reason ?? ''}`)
    data.method.push('over HTTP: bench scope `coldstart` (functions noop, tiers inline and wasm): one keep-alive connection to a gateway in its own process, request sent to last response byte; "new instance per call" is a function deployed with com.kindling.reset=reinstantiate com.kindling.prewarm=false, checked to instantiate on every call\'s critical path')
    if (!fastestFresh(data.rows)) data.status = 'failed'
    return data
  },
  render(d, r) {
    const row = (k: string) => find(d.rows, k)
    const best = fastestFresh(d.rows)
    const proto = [row('k-inline-warm'), row('k-wasm-warm')].filter(Boolean).sort((a, b) => us(a!) - us(b!))[0]
    const start = (k: string, pub = '') => {
      const m = row(k)
      return m ? [m.label, pub, measured(m), ratio(ratioOf(m, best))] : undefined
    }
    const lines = [
      start('c-docker-run-bb', cite(published('faasm.init.docker'))),
      start('c-podman-run-bb'),
      start('c-runsc-run-bb'),
      start('c-runc-run-bb'),
      start('c-crun-run-bb'),
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
      start('k-wasm-warm', cite(published('faasm.init.proto'))),
      start('k-inline-warm', cite(published('faasm.init.proto'))),
    ].filter((x): x is string[] => !!x)
    const docker = row('c-docker-run-bb')
    const crun = row('c-crun-run-bb')
    const faasmFresh = 2800 / 5.2
    const ratios = [
      ['container start / fresh wasm sandbox', `${num(faasmFresh)}x (2.8 s / 5.2 ms) ${RECALLED_MARK}`, `docker ${ratio(ratioOf(docker, best))}, crun ${ratio(ratioOf(crun, best))}`],
      ['container start / snapshot-restored sandbox', `${cite(published('faasm.init.proto-vs-docker'))} (READ-secondary)`, `docker ${ratio(ratioOf(docker, proto))}, crun ${ratio(ratioOf(crun, proto))}`],
      ['fresh sandbox / snapshot-restored sandbox', `${num(5.2 / 0.5)}x (5.2 / 0.5 ms) ${RECALLED_MARK}`, ratio(ratioOf(best, proto))],
    ]
    const cpu = d.rows.filter((x) => x.key.startsWith('cpu:') || x.key.startsWith('cpu-machine:'))
    const hz = Number(/([\d.]+) GHz/.exec(d.method.join(' '))?.[1] ?? NaN) * 1e9
    const cpuRow = (k: string, pub = '') => {
      const c = find(cpu, `cpu:${k}`)
      const machine = find(cpu, `cpu-machine:${k}`)
      const daemons = k.startsWith('c-docker') || k.startsWith('c-podman')
      return c ? [c.label, pub, `${time(us(c))}${daemons ? ' (without the daemons)' : ''}`, machine ? time(us(machine)) : '–', Number.isFinite(hz) ? `~${num((us(daemons && machine ? machine : c) / 1e6) * hz)}` : '–', c.note ?? ''] : undefined
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
      cpuRow('k-wasm-warm', cite(published('faasm.cpu.proto'))),
      cpuRow('k-inline-warm', cite(published('faasm.cpu.proto'))),
    ].filter((x): x is string[] => !!x)
    const cpuBest = best ? find(cpu, `cpu:${best.key}`) : undefined
    const cpuDocker = find(cpu, 'cpu-machine:c-docker-run-bb')
    const cpuCrun = find(cpu, 'cpu:c-crun-run-bb')
    const figure = logBars('R1: no-op start, median with 95% CI', lines.length ? d.rows.filter((x) => !x.key.startsWith('cpu') && !x.key.includes('exec') && !x.key.includes('-node')).map((x) => ({ label: x.label, us: us(x), lo: x.ci95 ? us(x, x.ci95[0]) : undefined, hi: x.ci95 ? us(x, x.ci95[1]) : undefined, kind: x.system })) : [])
    const md = [
      'Faasm\'s Table 3 starts a function that does nothing (`int main(){return 0;}`) many times in a row and divides the wall time, and the CPU cycles of the whole machine, by the number of starts. It compares a Docker container, a Faaslet (a new WebAssembly sandbox in a running process) and a Proto-Faaslet (a Faaslet restored from a snapshot of its initialised memory). The gap between them is the price of isolation strength: a container gets its own kernel namespaces, cgroups and root filesystem, a Faaslet only its own linear memory inside a shared process.',
      '',
      `Here the same no-op (functions/c/noop.c compiled to wasm32-wasi for kindling's wasm tiers, busybox \`true\` in a container) starts on each of kindling's tiers and on the container runtimes installed. kindling's "Proto-Faaslet" is its default state mode: after each call the sandbox's memory is restored from the snapshot taken right after instantiation, off the critical path, so the next call finds a clean instance.`,
      '',
      mdTable(['what starts', 'Faasm (published)', 'here: median [95% CI], p99', `x kindling's fastest fresh sandbox`], lines, ['l', 'r', 'r', 'r']),
      '',
      `Ratios (these compare across machines; the absolute times do not):`,
      '',
      mdTable(['ratio', 'Faasm', 'here'], ratios, ['l', 'r', 'r']),
      '',
      `CPU cost per start:`,
      '',
      mdTable(['what starts', 'Faasm cycles (published)', 'CPU time, process tree', 'CPU time, whole machine', 'cycles (estimate)', 'loop'], cpuLines, ['l', 'r', 'r', 'r', 'r', 'l']),
      '',
      'The process-tree column is the precise one (other work on the machine does not enter it); the whole-machine column is Faasm\'s method and the only one that sees dockerd, containerd and podman\'s conmon, so the cycle estimate uses it for the engines.',
      '',
      `CPU ratio container / kindling's fastest fresh sandbox: docker ${ratio(ratioOf(cpuDocker, find(cpu, `cpu-machine:${best?.key}`)))} (whole machine), crun ${ratio(ratioOf(cpuCrun, cpuBest))} (Faasm: Docker / Proto-Faaslet ${cite(published('faasm.cpu.proto-vs-docker'))}).`,
    ]
    return { markdown: md.join('\n'), figures: lines.length ? [{ file: 'r1-noop-start.svg', spec: figure, caption: 'R1: no-op start per mechanism (log scale)' }] : [] }
  },
  disagreements,
}

function disagreements(d: ExperimentData): string[] {
  const best = fastestFresh(d.rows)
  const out: string[] = []
  const cpuBest = best ? find(d.rows, `cpu:${best.key}`) : undefined
  if (cpuBest && us(cpuBest) > 1) {
    out.push(`CPU cost: Faasm's table gives a Faaslet 1.4K cycles ${RECALLED_MARK} and a Proto-Faaslet 650 ${RECALLED_MARK} per start, well under a microsecond. kindling's fastest fresh sandbox costs ${time(us(cpuBest))} of CPU here. The published cells look divided by the iteration count twice (Faasm's bench script does that when it writes its per-iteration column, per the method notes in the literature file), so only the Docker row (few iterations) is near its true scale; the cycle ratios are not comparable, the wall-time ratios are.`)
  }
  return out
}
