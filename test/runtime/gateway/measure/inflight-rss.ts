// Measures the gateway's memory with many large calls at once (issue 18, item 15). Bounded: starts
// `kindling serve` on loopback with the example functions, sends --calls concurrent POSTs of --mib
// MiB to /function/echo (wasm tier, answers the body), prints the statuses and the gateway's peak
// RSS (VmHWM), and stops the gateway it started.
//   node --import tsx test/runtime/gateway/measure/inflight-rss.ts [--calls 40] [--mib 15]
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { REPO_ROOT } from '../../../../runtime/version.js'

const { values } = parseArgs({ options: { calls: { type: 'string', default: '40' }, mib: { type: 'string', default: '15' }, port: { type: 'string', default: '18432' }, fn: { type: 'string', default: 'echo' } } })
const CALLS = Math.min(200, Number(values.calls))
const BYTES = Math.floor(Number(values.mib) * 1024 * 1024)
const PORT = Number(values.port)
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-inflight-'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'runtime/cli/main.ts'), 'serve', '--port', String(PORT), '--data-dir', dataDir], {
  env: { ...process.env, KINDLING_DEPLOY_EXAMPLES: 'true' },
  stdio: ['ignore', 'ignore', 'inherit'],
})
// the gateway goes with this script, however it ends
process.on('exit', () => child.kill('SIGKILL'))

function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

function post(body: Buffer): Promise<{ status: number; bytes: number; code?: string }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, method: 'POST', path: `/function/${values.fn}`, agent: false, timeout: 120_000, headers: { 'content-length': body.length } }, (res) => {
      let bytes = 0
      res.on('data', (d: Buffer) => (bytes += d.length))
      res.on('end', () => resolve({ status: res.statusCode!, bytes, code: res.headers['x-kindling-error'] as string | undefined }))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve({ status: 0, bytes: 0 }))
    req.end(body)
  })
}

try {
  for (let i = 0; ; i++) {
    const r = await post(Buffer.from('warm')).catch(() => undefined)
    if (r?.status === 200) break
    if (i > 600) throw new Error('the gateway did not start')
    await sleep(100)
  }
  const idle = status('VmRSS')
  const body = Buffer.alloc(BYTES, 'x')
  let peak = 0
  const sampler = setInterval(() => (peak = Math.max(peak, status('VmRSS'))), 50)
  const t0 = performance.now()
  const results = await Promise.all(Array.from({ length: CALLS }, () => post(body)))
  const secs = (performance.now() - t0) / 1000
  clearInterval(sampler)
  const byStatus = new Map<string, number>()
  for (const r of results) byStatus.set(`${r.status}${r.code ? ` ${r.code}` : ''}`, (byStatus.get(`${r.status}${r.code ? ` ${r.code}` : ''}`) ?? 0) + 1)
  console.log(`${CALLS} concurrent calls of ${values.mib} MiB to /function/${values.fn} in ${secs.toFixed(1)} s: ${[...byStatus].map(([s, n]) => `${n} x ${s}`).join(', ')}`)
  console.log(`complete echoes: ${results.filter((r) => r.status === 200 && r.bytes === BYTES).length}`)
  console.log(`gateway RSS: idle ${idle.toFixed(0)} MiB, sampled peak ${peak.toFixed(0)} MiB, VmHWM ${status('VmHWM').toFixed(0)} MiB`)
} finally {
  child.kill('SIGTERM')
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)])
  fs.rmSync(dataDir, { recursive: true, force: true })
}
