// R7 (SAND ATC'18, §3): the ladder of start-up mechanisms, from a new container down to a new
// WebAssembly instance, for a native no-op and for Node. SAND's point: a process forked inside a
// running application container starts orders of magnitude faster than a new container, and
// faster than a process exec'd into one. Rows come from the shared mechanisms measurement.
import { cite, published } from '../published.js'
import { kindOf, logBars } from '../report/figures.js'
import { find, mdTable, measured, ratio, ratioOf, us } from '../report/markdown.js'
import { mechanisms } from './shared.js'
import { emptyData, type Experiment, type ExperimentData, type Measured } from './types.js'

const NATIVE = ['c-docker-run-bb', 'c-podman-run-bb', 'c-runsc-run-bb', 'c-runc-run-bb', 'c-crun-run-bb', 'c-docker-exec-bb', 'c-podman-exec-bb', 'c-runc-exec-bb', 'c-crun-exec-bb', 'h-spawn-true', 'h-forkserver-0', 'h-forkserver-64', 'k-process-spare']
const NODE = ['c-docker-run-node', 'c-podman-run-node', 'c-runsc-run-node', 'c-runc-run-node', 'c-crun-run-node', 'c-docker-exec-node', 'c-podman-exec-node', 'c-runc-exec-node', 'c-crun-exec-node', 'h-spawn-node-NODE_EXTRA_CA_CERTS', 'h-spawn-node', 'p-fork', 'k-process-new', 'p-worker', 'k-thread-new']
const WASM = ['k-wasm-new', 'k-inline-new', 'p-wasm']

const SAND_ROW: Record<string, string> = { run: 'sand.ladder.docker-run', exec: 'sand.ladder.docker-exec' }

export const r7: Experiment = {
  id: 'R7',
  title: 'The start-up ladder: new container, exec, fork, thread, wasm instance',
  origin: 'SAND (ATC\'18), §3: start-up latency of docker run vs docker exec vs fork',
  async run(ctx) {
    const data = emptyData('R7')
    const m = await mechanisms(ctx)
    const keys = new Set([...NATIVE, ...NODE, ...WASM])
    data.rows.push(...m.rows.filter((r) => keys.has(r.key) || r.key.startsWith('h-spawn-node-')))
    data.notes.push(...m.notes)
    data.method.push(...m.method.filter((l) => !l.startsWith('CPU') && !l.startsWith('cycles')))
    data.skipped.push(...m.skipped.filter((s) => !s.startsWith('CPU')))
    if (!data.rows.length) data.status = 'failed'
    return data
  },
  render(d, r) {
    const row = (k: string) => find(d.rows, k)
    const sandOf = (k: string) => {
      if (k.startsWith('c-docker-')) return cite(published(SAND_ROW[k.split('-')[2]!]!))
      if (k.startsWith('h-forkserver')) return cite(published('sand.ladder.fork'))
      return ''
    }
    const table = (keys: string[], base: string) =>
      mdTable(
        ['mechanism', 'SAND (published, order of magnitude)', 'here: median [95% CI], p99', `x ${row(base)?.label ?? base}`],
        keys.map((k) => row(k)).filter((x) => !!x).map((x) => [x!.label, sandOf(x!.key), measured(x), ratio(ratioOf(x, row(base)))]),
        ['l', 'r', 'r', 'r'],
      )
    const step = (a: string, b: string) => ratio(ratioOf(row(a), row(b)))
    const bars = d.rows.map((x) => ({ label: x.label, us: us(x), lo: x.ci95 ? us(x, x.ci95[0]) : undefined, hi: x.ci95 ? us(x, x.ci95[1]) : undefined, p99: x.p99 !== undefined ? us(x, x.p99) : undefined, kind: kindOf(x.key, x.system) }))
    const md = [
      'SAND argues for isolating applications, not functions: one container per application, and inside it a process per call forked from a worker that has already loaded the function\'s code. Its motivating figure puts three ways to start a call side by side: a new container (`docker run`), a new process in a running container (`docker exec`), and a fork inside the container. Each step down the ladder gives up some isolation (own filesystem and namespaces, then own process) and gains about an order of magnitude in start-up time. kindling adds two rungs below SAND\'s: a worker thread (own V8 isolate and heap, shared process) and a WebAssembly instance (own linear memory only).',
      '',
      'Native no-op (busybox `true`):',
      '',
      table(NATIVE, 'h-spawn-true'),
      '',
      forkLine(row('h-forkserver-0'), row('h-forkserver-64'), row('k-process-spare')),
      '',
      'Node (`node -e 0`; the fork and Worker rows start a Node script or thread until it says ready):',
      '',
      table(NODE, 'p-worker'),
      '',
      'WebAssembly no-op (noop.wasm):',
      '',
      table(WASM, 'p-wasm'),
      '',
      mdTable(
        ['step down the ladder', 'SAND (recalled, order of magnitude)', 'here, native', 'here, Node'],
        [
          ['new container / exec in a running one', '~10x', `docker ${step('c-docker-run-bb', 'c-docker-exec-bb')}, crun ${step('c-crun-run-bb', 'c-crun-exec-bb')}`, `docker ${step('c-docker-run-node', 'c-docker-exec-node')}, crun ${step('c-crun-run-node', 'c-crun-exec-node')}`],
          ['exec in a container / plain process start', '~10x', `docker ${step('c-docker-exec-bb', 'h-spawn-true')}, crun ${step('c-crun-exec-bb', 'h-spawn-true')}`, `crun ${step('c-crun-exec-node', 'h-spawn-node')}`],
          ['plain process / worker thread', '–', '', step('h-spawn-node', 'p-worker')],
          ['worker thread / wasm instance', '–', '', step('p-worker', 'p-wasm')],
        ],
        ['l', 'r', 'r', 'r'],
      ),
    ]
    return { markdown: md.join('\n'), figures: bars.length ? [{ file: 'r7-ladder.svg', spec: logBars('R7: start-up ladder, median with 95% CI (tick: p99)', bars), caption: 'R7: the start-up ladder (log scale)' }] : [] }
  },
  disagreements(d: ExperimentData) {
    const out: string[] = []
    const fork0 = find(d.rows, 'h-forkserver-0')
    const spare = find(d.rows, 'k-process-spare')
    // without the fork server there is no measurement of SAND's rung: no conclusion about it
    if (fork0 && spare) {
      out.push(`SAND's fastest rung, a fork of a warmed worker, is ~1 ms ${'†'}. Evidence here (R7): a native fork server forks a warmed process per call in ${measured(fork0)}, while kindling's process tier, which cannot fork a warmed Node process, hands the call to a process started ahead in ${measured(spare)} (${ratio(ratioOf(spare, fork0))}). SAND's rung holds for native code; kindling's process tier is slower than it by that factor, and its thread and wasm tiers (R1) are the ones below it.`)
    }
    return out
  },
}

/** SAND's fork rung against kindling's pre-started process, from the fork server rows. */
export function forkLine(fork0?: Measured, fork64?: Measured, spare?: Measured): string {
  if (!fork0) return 'The native fork server did not run here, so SAND\'s fork rung has no measurement and nothing is concluded about it.'
  return `SAND's fastest rung is the fork server rows: a native process that warmed up once forks a child per call (functions/forkserver/forkserver.c, built by the run with clang), timed from the connection until the child's answer arrives: ${measured(fork0)}${fork64 ? `, and ${measured(fork64)} when the parent has 64 MiB of touched heap to share copy-on-write (fork copies its page tables)` : ''}. kindling's process tier cannot fork a warmed Node process; it hands the call to a process started ahead instead: ${measured(spare)}${spare ? ` (${ratio(ratioOf(spare, fork0))} the fork server's time: the spare's call crosses IPC into a Node process that then makes the function's sandbox)` : ''}.`
}
