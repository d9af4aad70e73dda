// Issue 14 item 7, in one run: pull time of a small (busybox, ~1 MiB gzip) and a ~50 MiB image from
// a docker-registry on loopback into a fresh store, then the cold start of a function from the
// pulled image (kindling one-shot: spawn + invoke) beside `crun run` of the same bundle.
//
//   node --import tsx bench/container/image-pull.ts [--rounds N]
//
// Needs root, crun, busybox-static, docker-registry (as the container tests).
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { createContainerTier, findStaticBusybox, openImageStore, pullImage, type RegistrySettings, which } from '../../isolation/index.js'
import { loadConfig, tierSettings } from '../../runtime/index.js'
import { gzip, LAYER, makeTar, Pusher, registrySkipReason, startRegistry } from '../../test/helpers/oci-registry.js'

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 5)
const why = registrySkipReason() ?? (process.getuid?.() !== 0 || !which('crun') ? 'needs root and crun' : findStaticBusybox() ? undefined : 'needs busybox-static')
if (why) {
  console.log(`skipped: ${why}`)
  process.exit(0)
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const reg = await startRegistry()
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-pullbench-'))
try {
  const bb = fs.readFileSync(findStaticBusybox()!)
  const base = makeTar([{ name: 'bin/busybox', data: bb, mode: 0o755 }, { name: 'bin/sh', type: '2', linkname: 'busybox' }, { name: 'bin/cat', type: '2', linkname: 'busybox' }])
  const big = makeTar([{ name: 'data/blob', data: crypto.randomBytes(50 * 1048576) }])
  const push = new Pusher(reg.url)
  const baseGz = gzip(base)
  const bigGz = gzip(big)
  await push.image('bench/small', '1', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }], { config: { Env: ['fprocess=cat'] } })
  await push.image('bench/large', '1', [{ bytes: baseGz, uncompressed: base, mediaType: LAYER.gzip }, { bytes: bigGz, uncompressed: big, mediaType: LAYER.gzip }], { config: { Env: ['fprocess=cat'] } })
  const settings: RegistrySettings = { mirrors: {}, insecure: [reg.host], timeoutMs: 30_000, maxManifestBytes: 4 << 20, maxLayerBytes: 1 << 30, maxUnpackedBytes: 1 << 30 }
  const pulls: Record<string, number[]> = { small: [], large: [] }
  for (let i = 0; i < rounds; i++) {
    for (const name of ['small', 'large'] as const) {
      const dir = fs.mkdtempSync(path.join(work, 'store-'))
      const store = openImageStore(dir)
      const t0 = performance.now()
      await pullImage(store, `${reg.host}/bench/${name}:1`, { settings, authConfigs: [] })
      pulls[name]!.push(performance.now() - t0)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  // cold start from the pulled small image
  const dataDir = fs.mkdtempSync(path.join(work, 'tier-'))
  const stateDir = path.join(dataDir, 'tiers', 'container')
  fs.mkdirSync(stateDir, { recursive: true })
  const tier = createContainerTier(
    { stateDir, dataDir, settings: tierSettings(loadConfig({})), readSecret: () => undefined, log: () => {} },
    { runtime: 'crun', pauseIdleMs: 0, registry: settings },
  )
  const art = { key: 'b.openfaas-fn', name: 'b', namespace: 'openfaas-fn', version: '1', app: 'b', kind: 'oci-image' as const, image: `${reg.host}/bench/small:1`, envProcess: '', envVars: {}, labels: {}, annotations: {}, secrets: [], memoryBytes: 64 << 20, cpuCores: 0, timeoutMs: 10_000, stateMode: 'fresh' as const, container: { readOnlyRootFilesystem: true } }
  const p = await tier.prepare(art)
  const req = () => ({ callId: 'c', method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from('hi'), deadline: Date.now() + 10_000 })
  const cold: Record<string, number[]> = { 'kindling one-shot (spawn+invoke)': [], 'crun run (same bundle)': [] }
  for (let i = 0; i < rounds * 2; i++) {
    let t0 = performance.now()
    const sb = await tier.spawn(p, { sandboxId: `b${i}` })
    const r = await sb.invoke(req(), new AbortController().signal)
    cold['kindling one-shot (spawn+invoke)']!.push(performance.now() - t0)
    if (r.body.toString() !== 'hi') throw new Error(`unexpected answer ${r.body.toString()}`)
    await sb.dispose('replaced')
    t0 = performance.now()
    await new Promise<void>((resolve, reject) => {
      const c = spawn('crun', ['run', '--bundle', p.plan.templateDir, `kd-pullbench-${process.pid}-${i}`], { stdio: ['pipe', 'ignore', 'ignore'] })
      c.stdin.end('hi')
      c.on('error', reject)
      c.on('close', () => resolve())
    })
    cold['crun run (same bundle)']!.push(performance.now() - t0)
  }
  await tier.close()
  console.log(`rounds: ${rounds}; layers: small ${(baseGz.length / 1048576).toFixed(1)} MiB gzip, large +${(bigGz.length / 1048576).toFixed(1)} MiB gzip`)
  for (const [k, v] of Object.entries(pulls)) console.log(`pull ${k.padEnd(6)} median ${median(v).toFixed(1)} ms  (${v.map((x) => x.toFixed(0)).join(', ')})`)
  for (const [k, v] of Object.entries(cold)) console.log(`cold start, ${k.padEnd(34)} median ${median(v).toFixed(1)} ms`)
} finally {
  await reg.stop()
  fs.rmSync(work, { recursive: true, force: true })
}
