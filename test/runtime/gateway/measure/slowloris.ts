// Measures how a gateway serves a normal client while slow clients trickle headers (issue 18, item
// 8). Bounded: starts `kindling serve` on loopback with a low open-file limit, opens --slow sockets
// that send one header byte per second for --seconds, calls /healthz every 100 ms meanwhile, prints
// the figures and stops the gateway it started.
//   node --import tsx test/runtime/gateway/measure/slowloris.ts [--slow 1100] [--seconds 20] [--nofile 1024]
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { REPO_ROOT } from '../../../../runtime/version.js'

const { values } = parseArgs({ options: { slow: { type: 'string', default: '1100' }, seconds: { type: 'string', default: '20' }, nofile: { type: 'string', default: '1024' }, port: { type: 'string', default: '18431' } } })
const SLOW = Number(values.slow)
const SECONDS = Math.min(60, Number(values.seconds))
const PORT = Number(values.port)
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-slowloris-'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const child = spawn('bash', ['-c', `ulimit -n ${Number(values.nofile)} && exec node --import tsx ${path.join(REPO_ROOT, 'runtime/cli/main.ts')} serve --port ${PORT} --data-dir ${dataDir}`], {
  env: { ...process.env, KINDLING_DEPLOY_EXAMPLES: 'false' },
  stdio: ['ignore', 'inherit', 'inherit'],
})
// the gateway goes with this script, however it ends
process.on('exit', () => child.kill('SIGKILL'))

function healthz(timeoutMs: number): Promise<number | undefined> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: PORT, path: '/healthz', agent: false, timeout: timeoutMs }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t0 : undefined))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
  })
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!.toFixed(1) : '-')

try {
  for (let i = 0; (await healthz(1000)) === undefined; i++) {
    if (i > 300) throw new Error('the gateway did not start')
    await sleep(100)
  }
  const baseline: number[] = []
  for (let i = 0; i < 20; i++) baseline.push((await healthz(2000))!)

  const header = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(4096)
  let end = Infinity
  const sockets: net.Socket[] = []
  let closedByServer = 0
  let refused = 0
  for (let i = 0; i < SLOW; i++) {
    const s = net.connect(PORT, '127.0.0.1')
    const state = { pos: 0 }
    s.on('error', () => {})
    s.on('connect', () => s.write(header[state.pos++]!))
    s.on('close', () => {
      if (Date.now() < end) closedByServer++
    })
    ;(s as net.Socket & { state?: typeof state }).state = state
    sockets.push(s)
    if (i % 100 === 99) await sleep(10)
  }
  end = Date.now() + SECONDS * 1000
  const ticker = setInterval(() => {
    for (const s of sockets) {
      const st = (s as net.Socket & { state: { pos: number } }).state
      if (!s.destroyed && s.writable) s.write(header[st.pos++ % header.length]!)
    }
  }, 1000)
  const lat: number[] = []
  let attempts = 0
  let maxRss = 0
  while (Date.now() < end) {
    attempts++
    const ms = await healthz(2000)
    if (ms !== undefined) lat.push(ms)
    maxRss = Math.max(maxRss, rssMiB(child.pid!))
    await sleep(100)
  }
  clearInterval(ticker)
  const open = sockets.filter((s) => !s.destroyed).length
  for (const s of sockets) s.destroy()
  void refused
  console.log(`slow sockets: ${SLOW} for ${SECONDS} s, gateway RLIMIT_NOFILE ${values.nofile}`)
  console.log(`baseline /healthz: p50 ${pct(baseline, 50)} ms, p99 ${pct(baseline, 99)} ms`)
  console.log(`under attack /healthz: ${lat.length}/${attempts} ok, p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, max ${pct(lat, 100)} ms`)
  console.log(`slow sockets closed by the gateway during the run: ${closedByServer}, still open at the end: ${open}; gateway max RSS ${maxRss.toFixed(0)} MiB`)
} finally {
  child.kill('SIGTERM')
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)])
  if (child.exitCode === null) child.kill('SIGKILL')
  fs.rmSync(dataDir, { recursive: true, force: true })
}
