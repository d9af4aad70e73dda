// The report's headline: kindling's fastest fresh-sandbox start against Faasm's Faaslet (5.2 ms)
// and Proto-Faaslet (0.5 ms), and against the container runtimes measured in the same run.
import { cite, published } from '../published.js'
import { find, measured, ratio, ratioOf, time, us } from '../report/markdown.js'
import { fastestFresh } from './r1-noop.js'
import type { ExperimentData } from './types.js'

export function headline(r1: ExperimentData | undefined): string[] {
  const best = r1 ? fastestFresh(r1.rows) : undefined
  if (!r1 || !best) return ['R1 did not run: no headline.']
  const row = (k: string) => find(r1.rows, k)
  const faaslet = published('faasm.init.faaslet')
  const proto = published('faasm.init.proto')
  const http = row(best.key === 'k-wasm-new' ? 'http:wasm-new' : 'http:inline-new')
  const lines = [
    `kindling's fastest fresh-sandbox start is **${best.label}: ${measured(best)}** (in-process, the tier API; ${http ? `${measured(http)} end to end over HTTP` : 'not measured over HTTP'}).`,
    '',
    `- Against Faasm's Faaslet (${cite(faaslet)}): ${ratio(us({ unit: 'ms', p50: faaslet.value! }) / us(best))} faster in-process${http ? `, ${ratio(us({ unit: 'ms', p50: faaslet.value! }) / us(http))} over HTTP` : ''}.`,
    `- Against Faasm's Proto-Faaslet (${cite(proto)}): ${ratio(us({ unit: 'ms', p50: proto.value! }) / us(best))} faster in-process${http ? `, ${ratio(us({ unit: 'ms', p50: proto.value! }) / us(http))} over HTTP` : ''}. (Different machines: Faasm's Xeon E5-2660 vs this one; the factor says "same order or not", no more.)`,
  ]
  const ctr: string[] = []
  for (const [k, name] of [['c-crun-run-bb', 'crun run'], ['c-runc-run-bb', 'runc run'], ['c-runsc-run-bb', 'runsc run (gVisor)'], ['c-podman-run-bb', 'podman run'], ['c-docker-run-bb', 'docker run'], ['k-container-oneshot', 'kindling container tier, one-shot'], ['k-container-ahead', 'kindling container tier, created ahead']] as const) {
    const m = row(k)
    if (m) ctr.push(`${name} ${time(us(m))} (${ratio(ratioOf(m, best))})`)
  }
  lines.push(ctr.length ? `- Against the container runtimes measured in the same run (a native no-op, median, and how many times kindling's fastest fresh start): ${ctr.join('; ')}.` : '- No container runtime was measured in this run.')
  return lines
}
