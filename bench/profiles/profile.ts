// Profiles a warm call under load (issue 17 item 3): a gateway in its own process with --cpu-prof
// (and its app host, through KINDLING_APP_HOST_CPU_PROF_DIR: Node refuses --cpu-prof in NODE_OPTIONS), the echo deployed on one
// tier, autocannon in its own process on loopback. The gateway then exits without closing, so its
// app hosts exit by themselves and both profiles get written; flame.ts turns them into SVG.
//   node dist/bench/profiles/profile.js [--tiers wasm,inline] [--connections 50] [--seconds 8] [--out DIR]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_FUNCTIONS, wasmPath } from '../lib/functions.js'
import { Gateway } from '../lib/gateway.js'
import { runAutocannon } from '../lib/load.js'

const { values } = parseArgs({ options: { tiers: { type: 'string', default: 'wasm,inline' }, connections: { type: 'string', default: '50' }, seconds: { type: 'string', default: '8' }, out: { type: 'string', default: 'bench/profiles/raw' } } })
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..')
const echo = fs.readFileSync(wasmPath(repoRoot, BENCH_FUNCTIONS.find((f) => f.name === 'echo')!))

for (const tier of values.tiers!.split(',')) {
  const dir = path.resolve(values.out!, `${tier}-${values.connections}c`)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-prof-'))
  const gw = await Gateway.start(data, { spareAppHosts: 0, appHostCpuProfDir: dir }, { execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'] })
  try {
    await gw.deploy('echo', { wasm: echo, labels: { 'com.kindling.isolation': tier } })
    const url = new URL('/function/echo', gw.url).href
    const spec = { url, method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' }, connections: Number(values.connections), durationS: Number(values.seconds), warmupS: 1 }
    const o = await runAutocannon(spec)
    const pids = await gw.pids()
    fs.writeFileSync(path.join(dir, 'pids.json'), JSON.stringify({ gateway: pids.gateway, appHosts: pids.appHosts, rps: Math.round(o.rps), non2xx: o.non2xx, errors: o.errors }))
    console.log(`${tier}, ${values.connections} conn: ${Math.round(o.rps)} req/s under the profiler; gateway ${pids.gateway}, app hosts ${pids.appHosts.join(' ')}`)
    await gw.exitNow()
    // app hosts exit on their own once their socket closes; give them time to write their profiles
    for (let i = 0; i < 100 && pids.appHosts.some((p) => alive(p)); i++) await new Promise((r) => setTimeout(r, 50))
  } finally {
    await gw.stop().catch(() => {})
    fs.rmSync(data, { recursive: true, force: true })
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
