// Faults under load (issue 18, "figures to report"): a real gateway process on loopback, sync load
// on every tier, and in each round: deploy a few functions, accept N asynchronous calls (results to
// a callback server on loopback), then kill -9 one thing: the gateway (restarted on the same data
// dir), its app hosts, its process-tier sandboxes (workers) or its containers. At the end every
// deployment must be listed and every accepted call called back: deployments lost = 0, accepted
// asynchronous calls lost = 0. Writes bench/results/faults-<time>.json.
//   node --import tsx bench/ops/faults.ts [rounds=8] [--calls 40] [--deploys 3] [--quick]
// --quick: 4 rounds (one per fault), 10 calls and 1 deployment each (CI).
// Callbacks go to 127.0.0.1. When the gateway has a callback policy that denies loopback by default
// (issue 18 item 4), the script finds its setting in runtime/config.ts (an env name with CALLBACK and
// ALLOW/HOSTS/CIDR) and allows 127.0.0.1; `--callback-env NAME=VALUE` sets it by hand, and any
// KINDLING_* variable in this script's environment reaches the gateway too.
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { REPO_ROOT } from '../../runtime/index.js'
import { sleeperModule } from '../../test/runtime/ops/helpers.js'
import { isAlive, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { loopbackCallbackSetting } from '../fuzz/callback-allow.js'
import { environmentRecord } from '../lib/env.js'
import { parseFlags } from '../lib/flags.js'
import { descendants } from '../lib/procmem.js'
import { timestamp } from '../lib/results.js'

type Fault = 'gateway' | 'apphost' | 'worker' | 'container'
const FAULTS: Fault[] = ['gateway', 'apphost', 'worker', 'container']

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const rest = args.filter((a) => a !== '--quick')
const rounds = rest[0] && !rest[0].startsWith('--') ? Number(rest.shift()) : quick ? 4 : 8
const flags = parseFlags(rest)
const callsPerRound = Number(flags.take('calls') ?? (quick ? 10 : 40))
const deploysPerRound = Number(flags.take('deploys') ?? (quick ? 1 : 3))
const callbackEnv = flags.take('callback-env')
if (Object.keys(flags.options).length) throw new Error(`unknown flags: ${Object.keys(flags.options).join(', ')}`)

/** The env that lets callbacks reach 127.0.0.1, if this gateway has a callback policy. */
function callbackAllowEnv(): Record<string, string> {
  if (typeof callbackEnv === 'string') {
    const eq = callbackEnv.indexOf('=')
    return { [callbackEnv.slice(0, eq)]: callbackEnv.slice(eq + 1) }
  }
  const s = loopbackCallbackSetting()
  return s ? { [s.env]: s.envValue } : {}
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/** What a process below the gateway is, from its command line (isolation/apphost/host-process.ts). */
function classify(pid: number): Fault | 'other' {
  const c = cmdline(pid)
  if (!c.includes('host-main')) return 'other'
  // app hosts get the app host heap (1024 MiB by default); process-tier sandboxes their memory limit
  return /--max-old-space-size=1024\b/.test(c) ? 'apphost' : 'worker'
}

/** Processes in this data dir's container cgroups (/kindling-<marker>/...). */
function containerPids(dataDir: string): number[] {
  const markers: string[] = []
  const walk = (d: string, depth: number) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && depth < 3) walk(path.join(d, e.name), depth + 1)
      else if (e.name === 'marker') markers.push(fs.readFileSync(path.join(d, e.name), 'utf8').trim())
    }
  }
  walk(dataDir, 0)
  if (!markers.length) return []
  const out: number[] = []
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const cg = fs.readFileSync(`/proc/${e}/cgroup`, 'utf8')
      if (markers.some((m) => cg.includes(`/kindling-${m}/`))) out.push(Number(e))
    } catch {}
  }
  return out
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function main(): Promise<void> {
  const command = `node --import tsx bench/ops/faults.ts ${rounds} --calls ${callsPerRound} --deploys ${deploysPerRound}${quick ? ' --quick' : ''}`
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-faults-'))
  const received = new Map<string, string[]>() // call id -> X-Function-Status of each callback
  const cb = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const id = String(req.headers['x-call-id'])
      received.set(id, [...(received.get(id) ?? []), String(req.headers['x-function-status'])])
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((r) => cb.listen(0, '127.0.0.1', () => r()))
  const callbackUrl = `http://127.0.0.1:${(cb.address() as AddressInfo).port}/done`

  const env = {
    KINDLING_ASYNC_RETRY_MIN_WAIT_MS: '200', KINDLING_ASYNC_RETRY_MAX_WAIT_MS: '2000', KINDLING_ASYNC_CALLBACK_RETRY_MS: '200',
    KINDLING_TIMEOUT_GRACE_MS: '250', ...callbackAllowEnv(),
  }
  let srv: ServerProcess = await startServerProcess(dataDir, env)
  const auth = `Basic ${Buffer.from(`admin:${fs.readFileSync(path.join(dataDir, 'secrets', 'basic-auth-password'), 'utf8').trim()}`).toString('base64')}`
  const sys = (method: string, p: string, body?: unknown) => fetch(`${srv.url}${p}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })

  const sleeper = Buffer.from(await sleeperModule(50))
  const cat = fs.readFileSync(path.join(REPO_ROOT, 'functions', 'dist', 'cat.wasm'))
  const upload = async (bytes: Buffer) => {
    const r = await fetch(`${srv.url}/system/artifacts`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/wasm' }, body: new Uint8Array(bytes) })
    if (r.status !== 201) throw new Error(`upload: ${r.status} ${await r.text()}`)
    return ((await r.json()) as { image: string }).image
  }
  const info = (await (await sys('GET', '/system/info')).json()) as { tiers: { name: string; available: boolean }[] }
  const hasContainers = info.tiers.some((t) => t.name === 'container' && t.available)
  const sleeperImage = await upload(sleeper)
  const catImage = await upload(cat)
  const tiers = ['wasm', 'process', 'thread', 'inline', ...(hasContainers ? ['container'] : [])]
  const bodyFor = (name: string, tier: string) => tier === 'container'
    ? { service: name, image: 'functions/alpine:latest', envProcess: 'cat', labels: { 'com.kindling.isolation': tier } }
    : { service: name, image: tier === 'inline' ? catImage : sleeperImage, labels: { 'com.kindling.isolation': tier, 'com.kindling.app': `faults-${tier}` } }

  const deployed = new Set<string>()
  const deploy = async (name: string, tier: string) => {
    const r = await sys('POST', '/system/functions', bodyFor(name, tier))
    if (r.status !== 202) throw new Error(`deploy ${name}: ${r.status} ${await r.text()}`)
    deployed.add(name)
  }
  // the functions the load and the asynchronous calls use, one per tier
  const base = tiers.map((t) => `base-${t}`)
  for (const [i, t] of tiers.entries()) await deploy(base[i]!, t)

  // sync load in the background: failures during a fault are expected for in-flight calls only
  let loadOn = true
  let phase = 'start'
  const sync: Record<string, Record<string, number>> = {}
  const loadLoop = async (k: number) => {
    let n = k
    while (loadOn) {
      const name = base[n++ % base.length]!
      let status = 'error'
      const t = Date.now()
      try {
        const r = await fetch(`${srv.url}/function/${name}`, { method: 'POST', body: 'load', signal: AbortSignal.timeout(30_000) })
        await r.arrayBuffer()
        status = String(r.status)
      } catch {
        await sleep(50)
      }
      const m = (sync[phase] ??= {})
      m[status] = (m[status] ?? 0) + 1
      const slow = Date.now() - t
      if (slow > 2000) m[`slow:${name}`] = (m[`slow:${name}`] ?? 0) + 1
    }
  }
  const loaders = Array.from({ length: 4 }, (_, k) => loadLoop(k))

  const accepted: string[] = []
  const refused: Record<string, number> = {}
  const roundsOut: { round: number; fault: Fault; killed: number; deploymentsMissing: string[]; orphansAfterKill?: number; containerProcessesAfterKill?: number; restartMs?: number }[] = []
  const orphans = new Set<number>()
  const t0 = Date.now()
  try {
    for (let round = 0; round < rounds; round++) {
      const fault = FAULTS[round % FAULTS.length]!
      phase = `${round}:${fault}`
      for (let i = 0; i < deploysPerRound; i++) await deploy(`f-${round}-${i}`, tiers[(round + i) % tiers.length]!)
      for (let i = 0; i < callsPerRound; i++) {
        const name = base[i % base.length]!
        const r = await fetch(`${srv.url}/async-function/${name}`, { method: 'POST', headers: { 'x-callback-url': callbackUrl }, body: `round ${round} call ${i}` })
        if (r.status === 202) accepted.push(r.headers.get('x-call-id')!)
        else {
          const code = r.headers.get('x-kindling-error') ?? String(r.status)
          refused[code] = (refused[code] ?? 0) + 1
          if (r.status === 400) throw new Error(`the gateway refused the loopback callback (${code}): allow 127.0.0.1 with --callback-env NAME=VALUE`)
        }
      }
      let killed = 0
      const out: (typeof roundsOut)[number] = { round, fault, killed: 0, deploymentsMissing: [] }
      if (fault === 'gateway') {
        const before = descendants(srv.child.pid!)
        await srv.kill9()
        killed = 1
        await sleep(2000)
        const left = before.filter(isAlive)
        left.forEach((p) => orphans.add(p))
        out.orphansAfterKill = left.length
        // created-ahead containers are not the gateway's descendants (crun re-parents them): count them apart
        out.containerProcessesAfterKill = containerPids(dataDir).length
        const ts = Date.now()
        srv = await startServerProcess(dataDir, env)
        out.restartMs = Date.now() - ts
      } else {
        const pids = fault === 'container' ? containerPids(dataDir) : descendants(srv.child.pid!).filter((p) => classify(p) === fault)
        for (const p of pids) {
          try {
            process.kill(p, 'SIGKILL')
            killed++
          } catch {}
        }
        await sleep(1000)
      }
      out.killed = killed
      const listed = new Set(((await (await sys('GET', '/system/functions')).json()) as { name: string }[]).map((f) => f.name))
      out.deploymentsMissing = [...deployed].filter((n) => !listed.has(n))
      roundsOut.push(out)
      console.log(`round ${round}: kill -9 ${fault} (${killed} process${killed === 1 ? '' : 'es'})${out.restartMs ? `, restarted in ${out.restartMs} ms` : ''}${out.orphansAfterKill !== undefined ? `, ${out.orphansAfterKill} children and ${out.containerProcessesAfterKill} container processes outlived it (2 s later)` : ''}; deployments missing: ${out.deploymentsMissing.length}; accepted so far: ${accepted.length}, called back: ${accepted.filter((id) => received.has(id)).length}`)
    }
    phase = 'drain'
    const until = Date.now() + (quick ? 90_000 : 180_000)
    while (Date.now() < until && accepted.some((id) => !received.has(id))) await sleep(250)
  } finally {
    loadOn = false
    await Promise.all(loaders)
  }

  const listed = new Set(((await (await sys('GET', '/system/functions')).json()) as { name: string }[]).map((f) => f.name))
  const deploymentsLost = [...deployed].filter((n) => !listed.has(n))
  const lost = accepted.filter((id) => !received.has(id))
  const lostStates: Record<string, string> = {}
  for (const id of lost.slice(0, 20)) {
    const r = await sys('GET', `/system/async-calls/${encodeURIComponent(id)}`)
    lostStates[id] = r.status === 200 ? ((await r.json()) as { state: string }).state : `HTTP ${r.status}`
  }
  const statuses: Record<string, number> = {}
  let duplicates = 0
  for (const id of accepted) {
    const got = received.get(id) ?? []
    if (got.length > 1) duplicates += got.length - 1
    if (got.length) statuses[got[got.length - 1]!] = (statuses[got[got.length - 1]!] ?? 0) + 1
  }
  const healthz = (await fetch(`${srv.url}/healthz`)).status
  await srv.stop()
  cb.close()
  // children of a killed gateway that outlived it (issue 18 item 16) are ours: end them by pid
  const orphansStillAlive = [...orphans].filter(isAlive)
  for (const p of orphansStillAlive) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {}
  }
  fs.rmSync(dataDir, { recursive: true, force: true })

  const result = {
    kind: 'kindling-faults', version: 1, command, seconds: (Date.now() - t0) / 1000, tiers, rounds: roundsOut,
    deployments: deployed.size, deploymentsLost: deploymentsLost.length, deploymentsLostNames: deploymentsLost,
    asyncAccepted: accepted.length, asyncRefused: refused, asyncCalledBack: accepted.length - lost.length, asyncLost: lost.length, lostStates,
    callbackStatuses: statuses, duplicateCallbacks: duplicates, syncLoadByPhase: sync,
    orphansAfterGatewayKills: orphans.size, orphansStillAliveAtEnd: orphansStillAlive.length, healthzAtEnd: healthz,
    callbackEnv: callbackAllowEnv(), environment: environmentRecord(REPO_ROOT, command),
  }
  console.log(`\ndeployments: ${deployed.size}, lost: ${deploymentsLost.length}${deploymentsLost.length ? ` (${deploymentsLost.join(', ')})` : ''}`)
  console.log(`asynchronous calls accepted: ${accepted.length}, called back: ${result.asyncCalledBack}, lost: ${lost.length} (duplicates: ${duplicates}; final statuses ${JSON.stringify(statuses)})`)
  if (lost.length) console.log(`lost calls' states: ${JSON.stringify(lostStates)}`)
  console.log(`sync load by phase (round:fault -> statuses): ${JSON.stringify(sync)}`)
  console.log(`children that outlived a killed gateway: ${orphans.size} (${orphansStillAlive.length} still alive at the end, now killed)`)
  const dir = path.join(REPO_ROOT, 'bench', 'results')
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `faults-${timestamp()}.json`)
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
  fs.copyFileSync(file, path.join(dir, `faults${quick ? '-quick' : ''}-latest.json`))
  console.log(`written: ${path.relative(REPO_ROOT, file)}`)
  process.exitCode = deploymentsLost.length === 0 && lost.length === 0 && healthz === 200 ? 0 : 1
}

main().catch((e) => {
  console.error(e)
  process.exit(2)
})
