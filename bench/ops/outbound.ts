// Outbound HTTP (issue 13 item 1): one GET from a wasm function through kindling.http_request
// (functions/dist/fetch-url.wasm, a blocking host call: helper thread + Atomics.wait) against the
// same GET from plain Node (http.request, a fresh connection each time, as the helper makes), both
// to a server on loopback in a child process. Sequential calls, one at a time.
//   node --import tsx bench/ops/outbound.ts [calls=500]
import fs from 'node:fs'
import path from 'node:path'
import { parseOutbound, standaloneWasmFunction } from '../../isolation/index.js'
import { REPO_ROOT } from '../../runtime/index.js'
import { environmentLine, environmentRecord } from '../lib/env.js'
import { percentile } from '../lib/stats.js'
import { startTargetServer } from '../../test/helpers/target-server.js'
import { plainGet } from '../lib/http1.js'

const calls = Number(process.argv[2] ?? 500)

async function main(): Promise<void> {
  const target = await startTargetServer()
  try {
    const url = `${target.origin}/hello`
    const fn = standaloneWasmFunction(fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', 'fetch-url.wasm')), {
      plan: { outbound: { patterns: parseOutbound(target.origin), maxResponseBytes: 1 << 20 } },
    })
    const sb = fn.createSandbox()
    const wasmCall = () => {
      const r = sb.run({ callId: 'b', method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from(url), deadline: Date.now() + 5000 })
      if (r.status !== 200) throw new Error(`fetch-url answered ${r.status}: ${r.body.toString()}`)
      sb.cleanup()
      return r.timings?.runUs ?? 0
    }
    const rows: [string, number[]][] = [['wasm fetch-url (kindling.http_request), run time', []], ['wasm fetch-url, whole call', []], ['plain Node http.get', []]]
    for (let i = 0; i < 50; i++) {
      wasmCall()
      await plainGet(url)
    }
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now()
      rows[0]![1].push(wasmCall())
      rows[1]![1].push((performance.now() - t0) * 1000)
      const t1 = performance.now()
      if ((await plainGet(url)) !== 'hello from target') throw new Error('bad answer')
      rows[2]![1].push((performance.now() - t1) * 1000)
    }
    console.log(environmentLine(environmentRecord(REPO_ROOT, `node --import tsx bench/ops/outbound.ts ${calls}`)))
    console.log('| case | p50 µs | p99 µs |\n|---|---|---|')
    for (const [name, v] of rows) console.log(`| ${name} | ${percentile(v, 50).toFixed(0)} | ${percentile(v, 99).toFixed(0)} |`)
  } finally {
    await target.stop()
  }
}

await main()
