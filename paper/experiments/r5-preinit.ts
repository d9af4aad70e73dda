// R5 (Faasm ATC'20, §6.5, the Python no-op): a function whose language runtime must start
// (CPython there, Node here) from scratch in a container, against one restored from a
// pre-initialised state. Node has no Proto-Faaslet, so the honest analogues are kindling's own:
// a spare process or worker booted ahead (the runtime is initialised before the call), and a wasm
// instance whose memory is restored from its initial snapshot. Rows from the shared mechanisms.
import { cite, published } from '../published.js'
import { find, mdTable, measured, num, ratio, ratioOf } from '../report/markdown.js'
import { mechanisms } from './shared.js'
import { emptyData, type Experiment } from './types.js'

const FRESH = ['c-docker-run-node', 'c-podman-run-node', 'c-runsc-run-node', 'c-runc-run-node', 'c-crun-run-node', 'h-spawn-node', 'k-process-new', 'k-thread-new', 'k-wasm-new']
const PREINIT = ['k-process-spare', 'k-thread-spare', 'k-inline-restore', 'k-wasm-warm', 'k-inline-warm']

export const r5: Experiment = {
  id: 'R5',
  title: 'A pre-initialised runtime against a fresh one',
  origin: 'Faasm (ATC\'20), §6.5: Python no-op in a container vs a Proto-Faaslet with CPython initialised',
  async run(ctx) {
    const data = emptyData('R5')
    const m = await mechanisms(ctx)
    const keys = new Set([...FRESH, ...PREINIT])
    data.rows.push(...m.rows.filter((r) => keys.has(r.key)))
    data.notes.push(...m.notes.filter((n) => [...keys].some((k) => n.startsWith(m.rows.find((r) => r.key === k)?.label ?? '\u0000')) || n.includes('FAILED')))
    data.method.push(...m.method.filter((l) => !l.startsWith('CPU') && !l.startsWith('cycles')))
    data.skipped.push(...m.skipped.filter((s) => !s.startsWith('CPU')))
    if (!data.rows.length) data.status = 'failed'
    return data
  },
  render(d) {
    const row = (k: string) => find(d.rows, k)
    // like with like: the restore on the critical path, as a Proto-Faaslet's (not a call on an instance restored before)
    const best = row('k-inline-restore') ?? PREINIT.map(row).filter((x) => !!x).sort((a, b) => ratioOf(a, b)! - 1)[0]
    const lines = (keys: string[]) => keys.map(row).filter((x) => !!x).map((x) => [x!.label, '', measured(x), ratio(ratioOf(x, row('k-process-spare')))])
    const container = row('c-docker-run-node') ?? row('c-crun-run-node')
    const pubRatio = 3200 / 0.9
    const md = [
      'Faasm\'s strongest start-up claim is for languages with a heavy runtime: a Python function in a container pays for the container and for CPython\'s start, 3.2 s in their set-up, while a Proto-Faaslet restores a CPython that was initialised once and snapshotted, in 0.9 ms. The trade is the same as in R1, with the runtime\'s own initialisation added to the container side.',
      '',
      'kindling runs Node, not CPython, and Node cannot snapshot a running process and restore it per call. What kindling does instead is start the runtime before the call: the process tier keeps a spare Node process booted (kindling\'s code loaded) and hands it the function on demand; the thread tier does the same with a worker thread; the wasm tiers restore a snapshot of the instance\'s memory after every call. The fresh side is Node started from nothing, in a container or as a plain process.',
      '',
      mdTable(['start', 'Faasm (published)', 'here: median [95% CI], p99', 'x kindling process tier, spare ready'], [['Faasm: Python no-op in a new container', cite(published('faasm.python.container')), '', ''], ...lines(FRESH), ['Faasm: Proto-Faaslet with CPython initialised', cite(published('faasm.python.proto')), '', ''], ...lines(PREINIT)], ['l', 'r', 'r', 'r']),
      '',
      mdTable(
        ['ratio', 'Faasm', 'here'],
        [
          ['runtime in a new container / the same runtime pre-initialised', `${num(pubRatio)}x (3.2 s / 0.9 ms, Python)`, `Node: ${container?.label ?? 'container'} / kindling process tier, spare ready: ${ratio(ratioOf(container, row('k-process-spare')))}; / thread tier, spare ready: ${ratio(ratioOf(container, row('k-thread-spare')))}`],
          ['a runtime in a new container / a snapshot-restored wasm sandbox (different runtimes)', '–', `${container?.label ?? 'container'} / ${best?.label ?? '–'}: ${ratio(ratioOf(container, best))}`],
          ['fresh runtime, no container / pre-initialised', '–', `node -e 0 / spare process: ${ratio(ratioOf(row('h-spawn-node'), row('k-process-spare')))}; new worker / spare worker: ${ratio(ratioOf(row('k-thread-new'), row('k-thread-spare')))}`],
        ],
        ['l', 'r', 'r'],
      ),
      '',
      'R11 below takes the same question further with heavy imports and a real V8 startup snapshot (`node --snapshot-blob`).',
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
}
