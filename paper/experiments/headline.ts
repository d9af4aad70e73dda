// The report's headline, like with like: kindling's fastest fresh-sandbox start against Faasm's
// Faaslet (5.2 ms), kindling's snapshot restore on the critical path against the Proto-Faaslet
// (0.5 ms), and the fresh start against the container runtimes measured in the same run.
import { cite, published } from '../published.js'
import { find, measured, ratio, ratioOf, time, us } from '../report/markdown.js'
import { fastestFresh, restoreRow } from './r1-noop.js'
import type { ExperimentData, Measured } from './types.js'

export function headline(r1: ExperimentData | undefined): string[] {
  const best = r1 ? fastestFresh(r1.rows) : undefined
  if (!r1 || !best) return ['R1 did not run: no headline.']
  const row = (k: string) => find(r1.rows, k)
  const faaslet = published('faasm.init.faaslet')
  const proto = published('faasm.init.proto')
  const restore = restoreRow(r1.rows)
  const http = row(best.key === 'k-wasm-new' ? 'http:wasm-new' : 'http:inline-new')
  const mean = (m: Measured) => (m.mean !== undefined ? `, mean ${time(us(m, m.mean))}` : '')
  const lines = [
    `kindling's fastest fresh-sandbox start is on the \`${best.key.split('-')[1]}\` tier: ${measured(best)}${mean(best)} in-process (the tier API: a new WebAssembly instance, then the first call)${http ? `; ${measured(http)}${mean(http)} end to end over HTTP (one keep-alive connection to the gateway, a new instance made on the call's critical path)` : ''}.${restore ? ` Its snapshot restore on the critical path (restore the initial memory, then the call) takes ${measured(restore)}${mean(restore)}.` : ''}`,
    '',
    'Like with like (Faasm\'s figures are means of back-to-back starts on one Xeon E5-2660 at 2.6 GHz; these ratios cross machines, so they say "same order of magnitude or not", no more; above 1x kindling is faster):',
    '',
    `- Faasm's Faaslet (${cite(faaslet)}) / kindling's new sandbox: ${ratio(us({ unit: 'ms', p50: faaslet.value! }) / us(best, best.mean ?? best.p50))} in-process (${best.mean !== undefined ? 'mean against mean' : 'against the median'})${http ? `, ${ratio(us({ unit: 'ms', p50: faaslet.value! }) / us(http, http.mean ?? http.p50))} over HTTP` : ''}.`,
    restore
      ? `- Faasm's Proto-Faaslet (${cite(proto)}) / kindling's restore + call: ${ratio(us({ unit: 'ms', p50: proto.value! }) / us(restore, restore.mean ?? restore.p50))} (${restore.mean !== undefined ? 'mean against mean' : 'against the median'}).`
      : '- kindling\'s restore on the critical path was not measured in this run: no Proto-Faaslet comparison.',
    `- The isolation is not equal: a Faaslet also has a CPU cgroup and a network namespace (Faasm §3.1), kindling's wasm sandboxes have neither, so these are kindling's lower bounds against Faasm's full Faaslet.`,
  ]
  const ctr: string[] = []
  for (const [k, name] of [['c-crun-run-bb', 'crun run'], ['c-runc-run-bb', 'runc run'], ['c-runsc-run-bb', 'runsc run (gVisor)'], ['c-podman-run-bb', 'podman run'], ['c-docker-run-bb', 'docker run'], ['k-container-oneshot', 'kindling container tier, one-shot'], ['k-container-ahead', 'kindling container tier, created ahead']] as const) {
    const m = row(k)
    if (m) ctr.push(`${name} ${time(us(m))} (${ratio(ratioOf(m, best))})`)
  }
  lines.push(ctr.length ? `- Against the container runtimes measured in the same run (a native no-op, median, and how many times kindling's fastest fresh start): ${ctr.join('; ')}.` : '- No container runtime was measured in this run.')
  return lines
}
