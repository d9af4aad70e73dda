// The report's headline: kindling's fastest fresh-sandbox start against Faasm's Faaslet (5.2 ms)
// and Proto-Faaslet (0.5 ms), and against the container runtimes measured in the same run.
import { cite, published } from '../published.js'
import { find, measured, ratio, ratioOf, time, us } from '../report/markdown.js'
import { fastestFresh } from './r1-noop.js'
import type { ExperimentData } from './types.js'

/** kindling's fastest snapshot-restored start (Proto-Faaslet analogue). */
function proto_(r1: ExperimentData): ReturnType<typeof find> {
  return [find(r1.rows, 'k-inline-warm'), find(r1.rows, 'k-wasm-warm')].filter((x) => !!x).sort((a, b) => us(a!) - us(b!))[0]
}

export function headline(r1: ExperimentData | undefined): string[] {
  const best = r1 ? fastestFresh(r1.rows) : undefined
  if (!r1 || !best) return ['R1 did not run: no headline.']
  const row = (k: string) => find(r1.rows, k)
  const faaslet = published('faasm.init.faaslet')
  const proto = published('faasm.init.proto')
  const http = row(best.key === 'k-wasm-new' ? 'http:wasm-new' : 'http:inline-new')
  const lines = [
    `kindling's fastest fresh-sandbox start is on the \`${best.key.split('-')[1]}\` tier: ${measured(best)} in-process (the tier API: a new WebAssembly instance, then the first call)${http ? `; ${measured(http)} end to end over HTTP (one keep-alive connection to the gateway, a new instance made on the call's critical path)` : ''}.`,
    '',
    `- Faasm's Faaslet (${cite(faaslet)}) / kindling: ${ratio(us({ unit: 'ms', p50: faaslet.value! }) / us(best))} in-process${http ? `, ${ratio(us({ unit: 'ms', p50: faaslet.value! }) / us(http))} over HTTP` : ''}.`,
    `- Faasm's Proto-Faaslet (${cite(proto)}) / kindling: ${ratio(us({ unit: 'ms', p50: proto.value! }) / us(best))} in-process${http ? `, ${ratio(us({ unit: 'ms', p50: proto.value! }) / us(http))} over HTTP` : ''}; kindling's own snapshot-restored start (a call on a clean instance) is ${measured(proto_(r1))}. Above 1x kindling is faster; these cross machines (Faasm: one Xeon E5-2660 at 2.6 GHz), so they say "same order of magnitude or not", no more.`,
  ]
  const ctr: string[] = []
  for (const [k, name] of [['c-crun-run-bb', 'crun run'], ['c-runc-run-bb', 'runc run'], ['c-runsc-run-bb', 'runsc run (gVisor)'], ['c-podman-run-bb', 'podman run'], ['c-docker-run-bb', 'docker run'], ['k-container-oneshot', 'kindling container tier, one-shot'], ['k-container-ahead', 'kindling container tier, created ahead']] as const) {
    const m = row(k)
    if (m) ctr.push(`${name} ${time(us(m))} (${ratio(ratioOf(m, best))})`)
  }
  lines.push(ctr.length ? `- Against the container runtimes measured in the same run (a native no-op, median, and how many times kindling's fastest fresh start): ${ctr.join('; ')}.` : '- No container runtime was measured in this run.')
  return lines
}
