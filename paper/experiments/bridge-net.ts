// Docker's default networking, rebuilt for a raw OCI runtime (paper R1N, Faasm's `docker run` had
// it): a Linux bridge with an address on the host, and per container a veth pair whose host end
// joins the bridge and whose other end moves into the container's network namespace (between
// `create` and `start`, where Docker's libnetwork does it), renamed eth0, given an address and a
// default route through the bridge. NAT (Docker's MASQUERADE rule) is one rule per network, added
// with the bridge, when iptables or nft is installed; nothing here changes ip_forward.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import { runCommand } from '../../bench/lib/floors.js'
import { which } from '../../isolation/index.js'

export const BRIDGE = 'kindling-paper0'
/** the bridge's subnet: 10.213.0.0/16, the bridge at .0.1 (Docker's docker0 is 172.17.0.0/16) */
const NET = { prefix: '10.213', bits: 16 }

export interface BridgeNet {
  /** how NAT was set up, or why not */
  nat: string
  /** the commands the per-container steps run, for the method */
  tools: string
  /** host end's name and the container's address of the n-th container */
  attach(pid: number, n: number): Promise<{ us: number; host: string }>
  /** removes the host end if the kernel has not yet (it goes with the namespace) */
  detach(host: string): Promise<void>
  close(): Promise<void>
}

async function ip(args: string[], input?: string): Promise<void> {
  const r = await runCommand('ip', args, input === undefined ? undefined : Buffer.from(input))
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim().slice(0, 300)}`)
}

/** The address of the n-th container (n from 0): 10.213.0.2 on, the last byte from 2 to 254. */
export function containerAddress(n: number): string {
  const a = Math.floor(n / 253)
  const b = (n % 253) + 2
  if (a > 255) throw new Error('no addresses left in the bridge subnet')
  return `${NET.prefix}.${a}.${b}`
}

/** Creates the bridge (refuses when one of that name exists: it would not be ours to remove). */
export async function openBridgeNet(): Promise<BridgeNet> {
  if (process.getuid?.() !== 0) throw new Error('needs root (ip link, network namespaces)')
  if (!which('ip')) throw new Error('no ip command (apt-get install iproute2)')
  if (!which('nsenter')) throw new Error('no nsenter (util-linux)')
  if (fs.existsSync(`/sys/class/net/${BRIDGE}`)) throw new Error(`a link named ${BRIDGE} exists already (left by an earlier run? ip link del ${BRIDGE})`)
  await ip(['link', 'add', BRIDGE, 'type', 'bridge'])
  const created: string[] = []
  try {
    await ip(['addr', 'add', `${NET.prefix}.0.1/${NET.bits}`, 'dev', BRIDGE])
    await ip(['link', 'set', BRIDGE, 'up'])
  } catch (e) {
    await ip(['link', 'del', BRIDGE]).catch(() => {})
    throw e
  }
  let nat = 'none: neither iptables nor nft is installed here, so the bridge has no MASQUERADE rule (Docker adds one per network, once, not per container)'
  const undoNat: (() => Promise<unknown>)[] = []
  const nft = which('nft')
  const ipt = which('iptables')
  if (ipt) {
    const rule = ['-t', 'nat', '-A', 'POSTROUTING', '-s', `${NET.prefix}.0.0/${NET.bits}`, '!', '-o', BRIDGE, '-j', 'MASQUERADE']
    const r = await runCommand(ipt, rule)
    if (r.code === 0) {
      nat = `iptables ${rule.join(' ')} (one rule for the network, as Docker's; ip_forward left as it was)`
      undoNat.push(() => runCommand(ipt, rule.map((x) => (x === '-A' ? '-D' : x))))
    } else nat = `none: iptables failed: ${r.stderr.trim().slice(0, 200)}`
  } else if (nft) {
    const table = 'kindling_paper'
    const r = await runCommand(nft, ['-f', '-'], Buffer.from(`table ip ${table} {\n chain post {\n  type nat hook postrouting priority 100;\n  ip saddr ${NET.prefix}.0.0/${NET.bits} oifname != "${BRIDGE}" masquerade\n }\n}\n`))
    if (r.code === 0) {
      nat = `nft table ip ${table} with one masquerade rule for the network, as Docker's; ip_forward left as it was`
      undoNat.push(() => runCommand(nft, ['delete', 'table', 'ip', table]))
    } else nat = `none: nft failed: ${r.stderr.trim().slice(0, 200)}`
  }
  const tag = `k${process.pid % 10000}`
  let closed = false
  return {
    nat,
    tools: '`ip -batch` on the host (veth pair, host end into the bridge and up, the other end into the container\'s namespace by pid), then `nsenter -t <pid> -n ip -batch` in it (rename to eth0, address, up, default route)',
    async attach(pid, n) {
      const t0 = performance.now()
      const host = `${tag}h${n}`
      const peer = `${tag}c${n}`
      created.push(host)
      await ip(['-batch', '-'], `link add ${host} type veth peer name ${peer}\nlink set ${host} master ${BRIDGE}\nlink set ${host} up\nlink set ${peer} netns ${pid}\n`)
      await nsenterIp(pid, `link set ${peer} name eth0\naddr add ${containerAddress(n)}/${NET.bits} dev eth0\nlink set eth0 up\nroute add default via ${NET.prefix}.0.1\n`)
      return { us: (performance.now() - t0) * 1000, host }
    },
    async detach(host) {
      if (fs.existsSync(`/sys/class/net/${host}`)) await ip(['link', 'del', host]).catch(() => {})
      const i = created.indexOf(host)
      if (i >= 0) created.splice(i, 1)
    },
    async close() {
      // once: a second close must not remove a bridge of that name made by someone else since
      if (closed) return
      closed = true
      for (const h of created.splice(0)) if (fs.existsSync(`/sys/class/net/${h}`)) await ip(['link', 'del', h]).catch(() => {})
      for (const u of undoNat) await u().catch(() => {})
      await ip(['link', 'del', BRIDGE]).catch(() => {})
    },
  }
}

async function nsenterIp(pid: number, batch: string): Promise<void> {
  const r = await runCommand('nsenter', ['-t', String(pid), '-n', 'ip', '-batch', '-'], Buffer.from(batch))
  if (r.code !== 0) throw new Error(`nsenter -t ${pid} -n ip -batch failed: ${r.stderr.trim().slice(0, 300)}`)
}

/** `<runtime> create` with no stdio (a created container keeps what it was given), its pid from --pid-file. */
export async function ociCreate(runtime: string, bundle: string, id: string, pidFile: string): Promise<number> {
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(runtime, ['create', '--pid-file', pidFile, '--bundle', bundle, id], { stdio: 'ignore' })
    p.on('error', () => resolve(-1))
    p.on('exit', (c) => resolve(c))
  })
  if (code !== 0) throw new Error(`${runtime} create exited ${code}`)
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim())
  if (!(pid > 0)) throw new Error(`${runtime} create wrote no pid`)
  return pid
}

export async function ociStart(runtime: string, id: string): Promise<void> {
  const r = await runCommand(runtime, ['start', id])
  if (r.code !== 0) throw new Error(`${runtime} start exited ${r.code}: ${r.stderr.slice(0, 200)}`)
}
