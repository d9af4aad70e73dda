// Container network grants (issue 13 item 1): one GET from inside a granted container (Node's
// http.request in an HTTP-mode function, a fresh connection each, through the in-netns forwarder
// and kindling's egress proxy) against the same GET from plain Node on the host, straight to the
// server. The server runs in a child process on loopback; GETs one after another.
//   node --import tsx bench/ops/container-egress.ts [gets=300]
// 2026-12-05, 2 vCPUs at load ~13: p50 1,483 µs through the proxy vs 454 µs direct (p99 6.2 vs
// 3.3 ms): about 1 ms more per GET (a fresh connection each: two more hops, three event loops).
import path from 'node:path'
import { buildNodeImage } from '../../isolation/index.js'
import { REPO_ROOT } from '../../runtime/index.js'
import { environmentLine, environmentRecord } from '../lib/env.js'
import { percentile } from '../lib/stats.js'
import { startTargetServer } from '../../test/helpers/target-server.js'
import { artifact, makeHarness, never, request } from '../../test/isolation/container/helpers.js'
import { plainGet } from '../lib/http1.js'

const gets = Number(process.argv[2] ?? 300)

async function main(): Promise<void> {
  const target = await startTargetServer()
  const h = makeHarness({ readyTimeoutMs: 20_000, pauseIdleMs: 0 })
  try {
    const url = `${target.origin}/hello`
    buildNodeImage(h.tier.images, { ref: 'bench/egress-http:1', add: [[path.join(REPO_ROOT, 'test/isolation/container/fixtures/egress-server'), '/home/app']], link: true })
    const a = artifact({ name: 'egress', image: 'bench/egress-http:1', envProcess: 'node /home/app/server.mjs', stateMode: 'reuse', memoryBytes: 256 * 1024 * 1024, envVars: { mode: 'http' }, annotations: { 'com.kindling.outbound': target.origin } })
    const sb = await h.tier.spawn(await h.tier.prepare(a), { sandboxId: 'bench-egress' })
    const inContainer = async (n: number): Promise<number[]> => {
      const r = await sb.invoke(request({ method: 'GET', path: '/fetch', query: `url=${encodeURIComponent(url)}&n=${n}`, text: '', deadline: Date.now() + 120_000 }), never())
      const out = JSON.parse(r.body.toString()) as { status: number; us?: number[]; body?: string }
      if (out.status !== 200 || !out.us) throw new Error(`the function answered ${r.body.toString()}`)
      return out.us
    }
    await inContainer(50)
    for (let i = 0; i < 50; i++) await plainGet(url)
    const proxied = await inContainer(gets)
    const direct: number[] = []
    for (let i = 0; i < gets; i++) {
      const t0 = performance.now()
      if ((await plainGet(url)) !== 'hello from target') throw new Error('bad answer')
      direct.push((performance.now() - t0) * 1000)
    }
    await sb.dispose('shutdown')
    console.log(environmentLine(environmentRecord(REPO_ROOT, `node --import tsx bench/ops/container-egress.ts ${gets}`)))
    console.log('| case | p50 µs | p99 µs |\n|---|---|---|')
    for (const [name, v] of [['container, through forwarder + egress proxy', proxied], ['plain Node on the host, direct', direct]] as const) {
      console.log(`| ${name} | ${percentile(v, 50).toFixed(0)} | ${percentile(v, 99).toFixed(0)} |`)
    }
  } finally {
    await h.close()
    await target.stop()
  }
}

await main()
