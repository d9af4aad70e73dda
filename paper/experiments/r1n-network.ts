// R1N (Faasm ATC'20, Table 3, the Docker row; issue 15 correction 3): what Docker's default
// networking adds to a container's start. Faasm's `docker run` had a veth pair into the docker0
// bridge; every other container row of this report has a network namespace with loopback only.
// Here crun starts the same no-op container both ways, interleaved: create + start with loopback
// only, and create + (veth pair, bridge, address, route: bridge-net.ts) + start. The teardown is
// timed on its own.
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { runCommand } from '../../bench/lib/floors.js'
import { summarize } from '../../bench/lib/stats.js'
import { cite, published } from '../published.js'
import { find, mdTable, measured, ratio, ratioOf, time, us } from '../report/markdown.js'
import { type BridgeNet, ociCreate, ociStart, openBridgeNet } from './bridge-net.js'
import { containerKit } from './shared.js'
import { emptyData, type Experiment, type Measured } from './types.js'

const ROWS: [string, string][] = [
  ['lo:start', 'crun create + start, loopback only (as R1\'s OCI rows)'],
  ['br:start', 'crun create + veth/bridge + start (Docker\'s default networking)'],
  ['br:net', 'of which the network steps (veth pair, bridge, move, address, route)'],
  ['lo:down', 'teardown, loopback only: crun delete -f'],
  ['br:down', 'teardown, veth/bridge: crun delete -f, then the host end if still there'],
]

export const r1n: Experiment = {
  id: 'R1N',
  title: 'Container start with default networking (veth pair and bridge)',
  origin: 'Faasm (ATC\'20), Table 3: the Docker row, whose `docker run` had Docker\'s default bridge network',
  suiteRepeat: false,
  async run(ctx) {
    const data = emptyData('R1N')
    const kit = await containerKit(ctx)
    if (kit.unavailable || !kit.oci.crun) {
      data.status = 'skipped'
      data.reason = kit.unavailable ?? `crun: ${kit.missing.find((m) => m.startsWith('crun')) ?? 'not available'}`
      return data
    }
    const crun = kit.oci.crun
    let net: BridgeNet
    try {
      net = await openBridgeNet()
    } catch (e) {
      data.status = 'skipped'
      data.reason = (e as Error).message
      return data
    }
    // also when the run is stopped from outside (SIGTERM runs the atEnd list, not this finally)
    ctx.atEnd(() => net.close())
    const samples: Record<string, number[][]> = Object.fromEntries(ROWS.map(([k]) => [k, []]))
    const bundle = kit.bundle('crun', 'bb', ['/bin/true'])
    const pidFile = path.join(ctx.workDir, 'pid')
    const perRound = ctx.quick ? 10 : 100
    const rounds = ctx.quick ? 1 : 3
    let seq = 0
    const one = async (withNet: boolean): Promise<Record<string, number>> => {
      const id = `kpaper-${process.pid}-r1n-${seq}`
      const n = seq++
      fs.rmSync(pidFile, { force: true })
      const t0 = performance.now()
      let host: string | undefined
      let netUs = 0
      try {
        const pid = await ociCreate(crun, bundle, id, pidFile)
        if (withNet) {
          const a = await net.attach(pid, n)
          host = a.host
          netUs = a.us
        }
        await ociStart(crun, id)
      } catch (e) {
        await runCommand(crun, ['delete', '-f', id]).catch(() => {})
        if (host) await net.detach(host)
        throw e
      }
      const started = (performance.now() - t0) * 1000
      const t1 = performance.now()
      await runCommand(crun, ['delete', '-f', id])
      if (host) await net.detach(host)
      const down = (performance.now() - t1) * 1000
      return withNet ? { 'br:start': started, 'br:net': netUs, 'br:down': down } : { 'lo:start': started, 'lo:down': down }
    }
    try {
      // untimed: the first of each warms the page cache and the runtime
      for (let i = 0; i < 3; i++) {
        await one(false)
        await one(true)
      }
      ctx.progress.step(`crun with and without a veth/bridge: ${rounds} round(s) x ${perRound} each, interleaved`)
      for (let r = 0; r < rounds && !ctx.shouldStop(); r++) {
        const block: Record<string, number[]> = Object.fromEntries(ROWS.map(([k]) => [k, []]))
        for (let i = 0; i < perRound; i++) {
          // the order alternates, so that neither variant always follows the other's teardown
          for (const withNet of i % 2 ? [true, false] : [false, true]) for (const [k, v] of Object.entries(await one(withNet))) block[k]!.push(v)
          ctx.progress.tick(r * perRound + i + 1, rounds * perRound)
        }
        for (const [k] of ROWS) samples[k]!.push(block[k]!)
      }
    } finally {
      await net.close()
    }
    for (const [key, label] of ROWS) {
      const blocks = samples[key]!.filter((b) => b.length)
      if (!blocks.length) continue
      const s = summarize(blocks.flat(), blocks)
      data.rows.push({ key, label, system: 'container', unit: 'us', n: s.n, p50: s.p50, p99: s.p99, mean: s.mean, ci95: s.ci95, rounds: blocks.length })
    }
    data.method.push(
      `the same bundle as R1's OCI rows (kindling's container template: busybox image, namespaces, cgroup limits, \`/bin/true\`), run by crun ${crun}; each sample \`crun create --pid-file\` (no stdio), [network steps], \`crun start\`, timed from before create until start returns; then, timed on its own, \`crun delete -f\` (and \`ip link del\` of the host end when the kernel has not removed it with the namespace yet)`,
      `network steps, per container: ${net.tools}; bridge ${'kindling-paper0'} with 10.213.0.1/16, made once before the loop and removed after it`,
      `NAT: ${net.nat}`,
      `${rounds} round(s) x ${perRound} samples of each variant, interleaved (the order alternating), after 3 untimed of each; median, p99, mean and a 95% CI over rounds`,
      'Docker does the same steps through netlink inside dockerd (libnetwork), not with `ip` processes: the network row here includes the start of two short processes (ip and nsenter + ip), which is an upper bound of the kernel work',
    )
    if (!data.rows.length) data.status = 'failed'
    return data
  },
  render(d) {
    const row = (k: string) => find(d.rows, k)
    const lo = row('lo:start')
    const br = row('br:start')
    const netRow = row('br:net')
    const lines = ROWS.map(([k]) => row(k)).filter((m): m is Measured => !!m).map((m) => [m.label, measured(m), m.mean !== undefined ? time(us(m, m.mean)) : '–'])
    const added = lo && br ? us(br) - us(lo) : undefined
    const md = [
      'Faasm\'s Docker row started containers with `docker run`, which gives a container Docker\'s default network: a veth pair whose one end is in the docker0 bridge and whose other end is the container\'s eth0, with an address from the bridge\'s subnet and a default route through it (and one NAT rule for the whole network). Every other container row in this report runs with a network namespace that has loopback only. This experiment rebuilds Docker\'s per-container network steps for crun, between `create` and `start` as Docker does, and times the start with and without them; R1\'s podman rows marked "default networking" show the same difference inside an engine.',
      '',
      mdTable(['what is timed', 'here: median [95% CI], p99', 'mean'], lines, ['l', 'r', 'r']),
      '',
      `The default network adds ${added !== undefined ? time(added) : '–'} to a start (medians; the network steps alone: ${netRow ? time(us(netRow)) : '–'}), ${ratio(ratioOf(br, lo))} the loopback-only start. Faasm's Docker figure (${cite(published('faasm.init.docker'))}, a mean over its runs, R1) includes such a network; kindling's container tier and the OCI rows of R1 do not, so those rows are the lower of the two.`,
      '',
      'What differs from Docker: the steps run as `ip` and `nsenter` processes rather than netlink calls inside dockerd; there is no IP address management, no /etc/hosts or resolv.conf written, no port mapping; the NAT rule (see the method) is per network, so its absence changes nothing per container; teardown is shown apart, as Docker\'s `run --rm` would do it after the exit.',
    ]
    return { markdown: md.join('\n'), figures: [] }
  },
}
