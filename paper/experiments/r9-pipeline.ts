// R9 (SAND ATC'18 §6, SOCK's case study): a four-stage image pipeline (extract metadata ->
// verify/transform it -> handler -> thumbnail; functions/pipeline) on a small PPM image, run as
// one application chained with kindling.call, through the gateway one call per stage on each
// tier, and against SAND's baseline, warm containers (OpenWhisk): a container per stage kept
// running with the stage loaded in an HTTP server (functions/pipeline/stage-server.c), through
// kindling's container tier in HTTP mode and as raw crun containers posted to directly. Cold
// containers per stage (kindling's container tier, raw OCI runtimes, engines) stay as extras.
// Each stage reports its own compute time in its response, so every run gives SAND's total time
// TT, the summed compute time TC, and the platform's overhead TT - TC.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { type Case, runInterleaved, timeRow } from '../../bench/lib/cases.js'
import { Gateway } from '../../bench/lib/gateway.js'
import { buildRequest, Http1Connection } from '../../bench/lib/http1.js'
import { artifactFor, createInProcessTiers, invokeRequest, NEVER } from '../../bench/lib/inproc.js'
import { runCommand } from '../../bench/lib/floors.js'
import { buildBusyboxImage, openImageStore, type Sandbox, which } from '../../isolation/index.js'
import { cite, published } from '../published.js'
import { find, mdTable, measured, ratio, ratioOf, time, us } from '../report/markdown.js'
import { PIPELINE_STAGES } from './containers.js'
import { containerKit } from './shared.js'
import { emptyData, type Experiment, type System } from './types.js'

const COLD = { 'com.kindling.reset': 'reinstantiate', 'com.kindling.prewarm': 'false' }

/** A binary PPM of w x h with a deterministic pattern: the pipeline's input. */
export function testImage(w = 256, h = 192): Buffer {
  const head = Buffer.from(`P6\n${w} ${h}\n255\n`)
  const px = Buffer.alloc(w * h * 3)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = (x * 7 + y * 3 + c * 50) & 0xff
  return Buffer.concat([head, px])
}

/** The summed compute time (µs) the stages wrote into the last response's metadata line. */
export function computeUs(response: Buffer): number {
  const nl = response.indexOf(0x0a)
  const meta = response.subarray(0, nl < 0 ? response.length : nl).toString('latin1')
  if (!meta.startsWith('PIPE1 ')) throw new Error(`not a pipeline response: ${JSON.stringify(meta.slice(0, 120))}`)
  let ns = 0
  for (const k of ['t1', 't2', 't3', 't4']) {
    const m = new RegExp(` ${k}=(\\d+)`).exec(meta)
    if (!m) throw new Error(`the response lacks ${k}: ${meta.slice(0, 200)}`)
    ns += Number(m[1])
  }
  if (!/ thumb=1/.test(meta)) throw new Error('no thumbnail in the response')
  return ns / 1000
}

/** Static native builds of the stages as long-running HTTP servers (functions/pipeline/stage-server.c). */
export function buildStageServers(repoRoot: string, outDir: string): true | string {
  const cc = which('clang') ? 'clang' : which('cc') ? 'cc' : undefined
  if (!cc) return 'no C compiler (clang) to build the stage servers'
  fs.mkdirSync(outDir, { recursive: true })
  try {
    for (const s of PIPELINE_STAGES) {
      execFileSync(cc, ['-O2', '-static', '-Wno-unused-function', `-DSTAGE_FILE="${s}.c"`, '-o', path.join(outDir, `${s}-server`), path.join('pipeline', 'stage-server.c')], { cwd: path.join(repoRoot, 'functions'), stdio: ['ignore', 'ignore', 'pipe'] })
    }
    return true
  } catch (e) {
    return `building the stage servers (clang -static) failed: ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}`
  }
}

/** POSTs a body to an HTTP server on a Unix socket (a warm stage), keep-alive. */
export function postUnix(agent: http.Agent, socketPath: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, agent, method: 'POST', path: '/', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`${socketPath}: ${res.statusCode} ${Buffer.concat(parts).toString().slice(0, 200)}`))))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Waits until a server accepts on the socket (bounded). */
async function untilListening(socketPath: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.request({ socketPath, method: 'GET', path: '/' }, (res) => {
        res.resume()
        resolve(true)
      })
      req.on('error', () => resolve(false))
      req.end()
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`no server on ${socketPath} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Mode {
  key: string
  label: string
  system: System
  speed: 'fast' | 'medium' | 'slow'
  /** one pipeline run: the final response */
  run(): Promise<Buffer>
  /** untimed, before each run (containers created ahead must be ready) */
  before?(): Promise<void>
}

export const r9: Experiment = {
  id: 'R9',
  title: 'A four-stage image pipeline: total time, compute, overhead',
  origin: 'SAND (ATC\'18), §6 image-processing pipeline; SOCK (ATC\'18) image-processing case study',
  async run(ctx) {
    const data = emptyData('R9')
    const image = testImage()
    const dist = path.join(ctx.repoRoot, 'functions', 'dist')
    const wasm = Object.fromEntries(PIPELINE_STAGES.map((s) => [s, fs.readFileSync(path.join(dist, `pipeline-${s}.wasm`))])) as Record<string, Buffer>
    const driver = fs.readFileSync(path.join(dist, 'pipeline.wasm'))
    const modes: Mode[] = []
    const closers: (() => Promise<unknown>)[] = []
    const kit = await containerKit(ctx)
    try {
      // ---- in-process (tier API): the chain, and one invoke per stage
      const inproc = await createInProcessTiers(path.join(ctx.workDir, 'inproc'), { spareAppHosts: 0 })
      closers.push(() => inproc.close())
      const wt = inproc.tiers.get('wasm')!
      const sbs: Record<string, Sandbox> = {}
      for (const s of PIPELINE_STAGES) sbs[s] = await wt.spawn(await wt.prepare(artifactFor(inproc.dataDir, { name: `pl-${s}`, tier: 'wasm', app: 'r9', wasm: wasm[s] })), { sandboxId: `r9-${s}` })
      const chainSb = await wt.spawn(await wt.prepare(artifactFor(inproc.dataDir, { name: 'pipeline', tier: 'wasm', app: 'r9', wasm: driver })), { sandboxId: 'r9-chain' })
      closers.push(async () => Promise.all([chainSb, ...Object.values(sbs)].map((s) => s.dispose('shutdown'))))
      const ok = (what: string, r: { status: number; body: Buffer }) => {
        if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.body.toString().slice(0, 200)}`)
        return r.body
      }
      modes.push({ key: 'inproc-chain', label: 'wasm tier, one application chained with kindling.call (tier API, no HTTP)', system: 'kindling', speed: 'fast', run: async () => ok('chain', await chainSb.invoke(invokeRequest(image, 'application/octet-stream'), NEVER)) })
      modes.push({
        key: 'inproc-stages', label: 'wasm tier, one invoke per stage (tier API, no HTTP)', system: 'kindling', speed: 'fast',
        run: async () => {
          let body = image
          for (const s of PIPELINE_STAGES) body = ok(s, await sbs[s]!.invoke(invokeRequest(body, 'application/octet-stream'), NEVER))
          return body
        },
      })

      // ---- through the gateway over HTTP
      const gwDir = path.join(ctx.workDir, 'gateway')
      fs.mkdirSync(gwDir, { recursive: true })
      const ctrImage = 'paper/pipeline:1'
      if (kit.pipeline === true) buildBusyboxImage(openImageStore(gwDir), { ref: ctrImage, add: [[kit.pipelineBin, '/pipeline']] })
      const servers = path.join(ctx.workDir, 'srv')
      const serversBuilt = kit.pipeline === true ? buildStageServers(ctx.repoRoot, servers) : kit.pipeline
      const warmImage = 'paper/pipeline-http:1'
      if (serversBuilt === true) buildBusyboxImage(openImageStore(gwDir), { ref: warmImage, add: [[servers, '/pipeline-http']], env: ['mode=http'] })
      // warm containers stay running: no freezing between calls (OpenWhisk pauses an idle
      // container after a grace period; a pipeline's stages follow each other within it)
      const gw = await Gateway.start(gwDir, { spareAppHosts: 1, containerPauseIdleMs: 0 })
      closers.push(() => gw.stop())
      const conn = await Http1Connection.open(gw.url)
      closers.push(async () => conn.close())
      const info = await gw.pids()
      const post = async (fn: string, body: Buffer) => {
        const r = await conn.request(buildRequest(gw.url, 'POST', `/function/${fn}`, body, { 'content-type': 'application/octet-stream' }))
        if (r.status !== 200) throw new Error(`${fn}: ${r.status} ${r.body.toString().slice(0, 200)}`)
        return r.body
      }
      const stagesVia = (prefix: string) => async () => {
        let body = image
        for (const s of PIPELINE_STAGES) body = await post(`${prefix}-${s}`, body)
        return body
      }
      for (const s of PIPELINE_STAGES) await gw.deploy(`pl-${s}`, { wasm: wasm[s], labels: { 'com.kindling.app': 'r9-chain' } })
      await gw.deploy('pipeline', { wasm: driver, labels: { 'com.kindling.app': 'r9-chain' } })
      modes.push({ key: 'http-chain', label: 'wasm tier, one request; the stages chained with kindling.call', system: 'kindling', speed: 'fast', run: () => post('pipeline', image) })
      const perStage: [string, string, Record<string, string>, 'fast' | 'medium'][] = [
        ['wasm', 'wasm', {}, 'fast'],
        ['wasmcold', 'wasm', COLD, 'fast'],
        ['inline', 'inline', {}, 'fast'],
        ['thread', 'thread', {}, 'medium'],
        ['process', 'process', {}, 'medium'],
      ]
      for (const [prefix, tier, labels, speed] of perStage) {
        if (info.unavailable[tier]) {
          data.skipped.push(`${tier} tier: ${info.unavailable[tier]}`)
          continue
        }
        for (const s of PIPELINE_STAGES) await gw.deploy(`${prefix}-${s}`, { wasm: wasm[s], labels: { 'com.kindling.isolation': tier, 'com.kindling.app': `r9-${prefix}`, ...labels } })
        modes.push({ key: `http-${prefix}`, label: `${tier} tier, one request per stage${prefix === 'wasmcold' ? ', a new instance per call' : ''}`, system: 'kindling', speed, run: stagesVia(prefix) })
      }
      if (kit.pipeline !== true) data.skipped.push(`containers: ${kit.unavailable ?? kit.pipeline}`)
      else if (info.unavailable['container'] || !info.tiers.includes('container')) data.skipped.push(`kindling container tier: ${info.unavailable['container'] ?? 'not registered'}`)
      else {
        if (serversBuilt !== true) data.skipped.push(`warm containers: ${serversBuilt}`)
        else {
          for (const s of PIPELINE_STAGES) await gw.deploy(`hw-${s}`, { image: warmImage, envProcess: `/pipeline-http/${s}-server`, labels: { 'com.kindling.isolation': 'container', 'com.kindling.app': 'r9-warm', 'com.kindling.state': 'reuse' } })
          modes.push({ key: 'http-container-warm', label: 'container tier (crun), HTTP mode: a container per stage kept running, its server takes the call (warm containers, as OpenWhisk\'s); one request per stage', system: 'kindling', speed: 'fast', run: stagesVia('hw') })
        }
        for (const s of PIPELINE_STAGES) await gw.deploy(`ct-${s}`, { image: ctrImage, envProcess: `/pipeline/${s}`, labels: { 'com.kindling.isolation': 'container', 'com.kindling.app': 'r9-container' } })
        modes.push({
          key: 'http-container', label: 'extra: container tier (crun), classic mode: containers created ahead, each started for its call; one request per stage', system: 'kindling', speed: 'medium', run: stagesVia('ct'),
          before: async () => {
            for (const s of PIPELINE_STAGES) await gw.waitIdle(`ct-${s}`)
          },
        })
      }

      // ---- containers without kindling, kept running: a stage server per crun container
      if (serversBuilt === true && kit.oci.crun) {
        const crun = kit.oci.crun
        const ids: string[] = []
        const removeWarm = async () => {
          for (const id of ids.splice(0)) await runCommand(crun, ['delete', '-f', id]).catch(() => {})
        }
        closers.push(removeWarm)
        // also when the run is stopped from outside (SIGTERM runs the atEnd list, not the finally)
        ctx.atEnd(removeWarm)
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
        closers.push(async () => agent.destroy())
        const startWarm = async () => {
          for (const s of PIPELINE_STAGES) {
            // the servers and their sockets in a host folder bind-mounted over the container's /tmp
            const bundle = kit.bundle('crun', 'bb', [`/tmp/k/${s}-server`, `/tmp/k/${s}.sock`])
            const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { mounts: Record<string, unknown>[] }
            spec.mounts.push({ destination: '/tmp/k', type: 'bind', source: servers, options: ['rbind', 'rw', 'nosuid', 'nodev'] })
            fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec))
            const id = `kpaper-${process.pid}-r9-warm-${s}`
            const code = await new Promise<number | null>((resolve) => {
              const p = spawn(crun, ['run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' })
              p.on('error', () => resolve(-1))
              p.on('exit', (c) => resolve(c))
            })
            if (code !== 0) throw new Error(`crun run --detach of the ${s} server exited ${code}`)
            ids.push(id)
            await untilListening(path.join(servers, `${s}.sock`))
          }
        }
        // a warm set that does not come up is a skipped row, not a failed experiment
        const warmUp = await startWarm().then(() => true, (e: Error) => e.message)
        if (warmUp !== true) data.skipped.push(`raw crun warm containers: ${warmUp}`)
        else modes.push({
          key: 'oci-crun-warm', label: 'crun containers kept running, one per stage, each a stage server; the driver posts to each over a Unix socket (no platform in between)', system: 'container', speed: 'fast',
          run: async () => {
            let body = image
            for (const s of PIPELINE_STAGES) body = await postUnix(agent, path.join(servers, `${s}.sock`), body)
            return body
          },
        })
      } else if (kit.pipeline === true) data.skipped.push(`raw crun warm containers: ${serversBuilt !== true ? serversBuilt : 'crun is not available'}`)

      // ---- containers without kindling: a new container per stage (cold; extras)
      if (kit.pipeline === true) {
        for (const rt of Object.keys(kit.oci) as ('crun' | 'runc' | 'runsc')[]) {
          const bundles = PIPELINE_STAGES.map((s) => kit.bundle(rt, 'bb', [`/pipeline/${s}`]))
          modes.push({
            key: `oci-${rt}`, label: `extra: ${rt} run per stage (a new container each, cold; OCI runtime only)`, system: 'container', speed: rt === 'runsc' ? 'slow' : 'medium',
            run: async () => {
              let body = image
              for (const b of bundles) {
                const r = await kit.run(rt, b, body)
                if (r.code !== 0) throw new Error(`${rt} run: ${r.code} ${r.stderr.slice(0, 200)}`)
                body = r.stdout
              }
              return body
            },
          })
        }
        for (const e of Object.values(kit.engines)) {
          modes.push({
            key: `engine-${e.name}`, label: `extra: ${e.name} run per stage (a new container each, cold)`, system: 'container', speed: 'slow',
            run: async () => {
              let body = image
              for (const s of PIPELINE_STAGES) {
                const r = await e.run('bb', [`/pipeline/${s}`], body)
                if (r.code !== 0) throw new Error(`${e.name} run: ${r.code} ${r.stderr.slice(0, 200)}`)
                body = r.stdout
              }
              return body
            },
          })
        }
      }
      data.skipped.push(...kit.missing)

      // ---- interleaved rounds
      const rounds = Number(ctx.options['rounds'] ?? (ctx.quick ? 1 : 10))
      const BATCH = ctx.quick ? { fast: 3, medium: 1, slow: 1 } : { fast: 20, medium: 5, slow: 2 }
      const cases: Case[] = modes.map((m) => ({
        group: m.key,
        name: m.label,
        batch: BATCH[m.speed],
        warmup: ctx.quick ? 1 : m.speed === 'fast' ? 10 : 1,
        sample: async () => {
          await m.before?.()
          const t0 = performance.now()
          const out = await m.run()
          const tt = (performance.now() - t0) * 1000
          const tc = computeUs(out)
          return { us: tt, parts: { tc, overhead: tt - tc } }
        },
      }))
      // the warm rows count the container starts they made: one per stage at most (the first call)
      const warm = modes.some((m) => m.key === 'http-container-warm')
      if (warm) for (const st of PIPELINE_STAGES) await gw.record(`hw-${st}`)
      ctx.progress.step(`pipeline: ${cases.length} modes x ${rounds} round(s)`)
      for (const r of await runInterleaved(cases, rounds, ctx.progress, ctx.shouldStop, { sampleTimeoutMs: 120_000 })) {
        const m = modes.find((x) => x.key === r.group)!
        if (r.error) {
          const done = r.blocks.length
          data.notes.push(`${m.label}: FAILED in round ${done + 1}: ${r.error.split('\n')[0]}${done ? `; its rows have the ${done} round(s) before` : ''}`)
          if (!done) continue
        }
        const tt = timeRow(m.key, m.label, r.samples, r.blocks)
        data.rows.push({ key: m.key, label: m.label, system: m.system, unit: tt.unit, n: tt.n, p50: tt.p50, p99: tt.p99, ci95: tt.ci95, rounds: r.blocks.length })
        for (const part of ['tc', 'overhead'] as const) {
          const p = timeRow(m.key, part, r.parts.get(part) ?? [])
          data.rows.push({ key: `${m.key}:${part}`, label: m.label, system: m.system, unit: p.unit, n: p.n, p50: p.p50, p99: p.p99, ci95: p.ci95 })
        }
      }
      if (warm) {
        let starts = 0
        for (const st of PIPELINE_STAGES) starts += (await gw.take(`hw-${st}`)).coldStarts.length
        data.notes.push(`warm containers through kindling (HTTP mode, com.kindling.state=reuse): ${starts} container start(s) for the ${PIPELINE_STAGES.length} stages during the warm-up runs and the rounds${starts > PIPELINE_STAGES.length ? ': MORE than one per stage, so some timed runs started a container' : ' (each stage\'s first call at most), so every timed run found its containers running'}`)
      }
      data.method.push(
        `input: a ${image.length.toLocaleString('en-US')}-byte binary PPM (256 x 192 RGB); the stages (functions/pipeline, C) are built to wasm32-wasi by functions/build.mjs for kindling and natively (clang -O2 -static, from the same sources) for the containers`,
        'TT: from sending the first request to the last response, as the client sees it; TC: the sum of the four stages\' own compute times, each measured inside the stage with the monotonic clock (after reading its request, before writing its response) and carried to the end in the metadata line; overhead = TT - TC per run (SAND\'s definition); medians of each',
        `${rounds} round(s), every mode once per round in a shuffled order, ${BATCH.fast} / ${BATCH.medium} / ${BATCH.slow} runs per round for fast / ms-scale / engine modes, after ${ctx.quick ? 1 : '10 (fast modes) or 1'} untimed warm-up run(s) each; the container tier\'s pre-created containers are waited for (untimed) before each run`,
        'the chain: a driver function (functions/pipeline/pipeline.c) calls the four stages of its application in turn with kindling.call and answers with the last response',
        'warm containers (SAND\'s baseline, OpenWhisk with warm containers): each stage built natively as a long-running HTTP server (functions/pipeline/stage-server.c: the stage\'s own source with its main called per request in the same process, stdin and stdout on the request and response bodies, allocations from an arena reset per request; poll(2), keep-alive). Through kindling: the container tier in HTTP mode (one running crun container per stage, reached over a Unix socket; the gateway runs with containerPauseIdleMs=0 so no container is frozen between calls), the client sending one request per stage as OpenWhisk\'s controller runs a sequence. Without kindling: four `crun run --detach` containers of the same bundle as the other OCI rows plus a bind-mounted folder at /tmp/k with the servers and their sockets, started once before the rounds; the driver (this process) posts to each socket with a keep-alive agent',
        'extras, not SAND\'s baseline: the container tier in classic mode (a container created ahead per stage and started for its call: a cold start without the create), and a new container per stage with the OCI runtimes and engines (cold)',
      )
    } finally {
      for (const c of closers.reverse()) await c().catch(() => {})
    }
    if (!data.rows.length) data.status = 'failed'
    return data
  },
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const base = row('http-chain:overhead')
    const keys = [...new Set(d.rows.filter((r) => !r.key.includes(':')).map((r) => r.key))]
    const lines = keys.map((k) => {
      const tt = row(k)!
      const tc = row(`${k}:tc`)
      const ov = row(`${k}:overhead`)
      return [tt.label, measured(tt), time(tc ? us(tc) : undefined), measured(ov), ratio(ratioOf(ov, base))]
    })
    const ovOf = (k: string) => row(`${k}:overhead`)
    const cmp = (k: string) => ratio(ratioOf(ovOf(k), base))
    const md = [
      'SAND and SOCK both end with an application, not a micro-benchmark: images go through a chain of functions (extract the metadata, verify and transform it, process the image, make a thumbnail). SAND splits the total time TT into the functions\' own compute TC and the rest, TT − TC, which is what the platform costs: starting sandboxes, moving data between functions, the front door. SAND cut that overhead 22x against OpenWhisk with warm containers by keeping an application\'s functions in one container and passing calls over its local bus; SOCK cut it 2.8x against AWS Lambda and 5.3x against OpenWhisk with lean containers and its caches.',
      '',
      'Here the four stages are small C programs (functions/pipeline) that do the real work on a 256 x 192 image and report their own compute time. kindling runs them as one application chained with kindling.call (the stages never leave the app host), or one HTTP request per stage on each tier. SAND\'s baseline is warm containers: a container per stage already running with its function loaded, called over HTTP for each stage. Two rows rebuild it with the same C code compiled natively as a long-running server per stage: kindling\'s container tier in HTTP mode (through the gateway, one request per stage, as OpenWhisk\'s controller runs a sequence) and raw crun containers that the benchmark posts to directly (no platform: the floor of a warm-container pipeline). The rows marked "extra" start a container per stage (cold), which OpenWhisk\'s warm pipeline did not.',
      '',
      mdTable(['how the pipeline runs', 'TT: median [95% CI], p99', 'TC (median)', 'TT − TC: median [95% CI], p99', 'overhead x kindling.call chain'], lines, ['l', 'r', 'r', 'r', 'r']),
      '',
      mdTable(['overhead ratio', 'published', 'here'], [
        ['warm containers, one per stage / functions of one application on a local path', `SAND: OpenWhisk (warm containers) / SAND ${cite(published('sand.pipeline.overhead'))}`, `kindling container tier, HTTP mode, kept running / kindling.call chain: ${cmp('http-container-warm')}; raw crun containers kept running, no platform / kindling.call chain: ${cmp('oci-crun-warm')}`],
        ['extra, not SAND\'s baseline: a container per stage started per call / local path', '–', `container tier created ahead ${cmp('http-container')}, docker ${cmp('engine-docker')}, podman ${cmp('engine-podman')}, crun ${cmp('oci-crun')} (each / kindling.call chain)`],
        ['managed platform / lean containers with caches', `SOCK: Lambda / SOCK ${cite(published('sock.pipeline.lambda'))}, OpenWhisk / SOCK ${cite(published('sock.pipeline.openwhisk'))}`, `docker per stage / kindling container tier (warm, HTTP mode): ${ratio(ratioOf(ovOf('engine-docker'), ovOf('http-container-warm')))}; crun per stage / kindling container tier (warm): ${ratio(ratioOf(ovOf('oci-crun'), ovOf('http-container-warm')))}`],
        ['whole application: warm containers per stage vs one application', `SAND vs OpenWhisk: ${cite(published('sand.app.speedup'))}`, `TT kindling container tier (warm) / chain ${ratio(ratioOf(row('http-container-warm'), row('http-chain')))}, raw crun warm / chain ${ratio(ratioOf(row('oci-crun-warm'), row('http-chain')))}; extras: docker per stage / chain ${ratio(ratioOf(row('engine-docker'), row('http-chain')))}`],
      ], ['l', 'r', 'r']),
      '',
      'What differs from SAND: SAND\'s and OpenWhisk\'s functions ran in Python inside Docker containers on a bridge network; here the warm stages are native C servers reached over Unix sockets (no veth, no bridge), so the warm-container rows are a lower bound of what OpenWhisk\'s warm pipeline costs, and the ratios to the kindling.call chain are lower bounds of SAND\'s kind of gap. The kindling.call chain makes a wasm instance per stage (µs) where SAND forks a process per call.',
      '',
      'TC differs between rows: the wasm stages run on V8, the container stages natively, and a stage run for the first time in a new instance or process runs colder code. The overhead column compares like with like.',
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
  disagreements(d) {
    const out: string[] = []
    const chain = find(d.rows, 'http-chain:overhead')
    const warm = find(d.rows, 'http-container-warm:overhead')
    const raw = find(d.rows, 'oci-crun-warm:overhead')
    const r = ratioOf(warm, chain)
    const evidence = `R9's table: TT − TC medians of kindling's container tier in HTTP mode with a container per stage kept running (${measured(warm)}) and of the kindling.call chain (${measured(chain)})${raw ? `; raw crun warm containers without a platform: ${measured(raw)}` : ''}`
    const why = 'The warm stages here are native C servers that keep their process and memory between calls and are reached over Unix sockets (no bridge, no Python runtime, no controller or message queue between stages as in OpenWhisk); each kindling.call stage makes a new wasm instance and copies the image in and out of it (the share of each is not measured apart here).'
    if (r !== undefined && r < 1) out.push(`with a warm container per stage the pipeline's platform overhead is ${ratio(r)} that of kindling's chained application, lower, where SAND found OpenWhisk's warm containers 22x above its local bus (${evidence}). ${why} The direction does not agree: kindling.call's gain shows against containers started per stage (the extra rows), not against warm native servers.`)
    else if (r !== undefined && (r > 22 * 2 || r < 22 / 2)) out.push(`with a warm container per stage the pipeline's platform overhead is ${ratio(r)} that of kindling's chained application, against SAND's 22x over OpenWhisk with warm containers (${evidence}). ${why} The direction agrees; the size differs.`)
    return out
  },
}
