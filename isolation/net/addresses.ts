// Which IP addresses are not public destinations (loopback, private, link-local, cloud metadata,
// this machine's own addresses), shared by every policy that lets untrusted input pick where the
// gateway connects: async callbacks (runtime/async/callback-policy.ts) and functions' outbound HTTP
// (isolation/wasm/host/outbound-fetch.ts). Pure address logic: no grants, no DNS.
import net from 'node:net'
import os from 'node:os'

/** Ranges no untrusted connection goes to by default, with the reason given in errors. */
const DENIED_V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'], ['10.0.0.0', 8, 'private'], ['100.64.0.0', 10, 'private (shared)'], ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'], ['172.16.0.0', 12, 'private'], ['192.0.0.0', 24, 'reserved'], ['192.0.2.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'], ['192.88.99.0', 24, 'reserved (6to4 relay)'], ['198.18.0.0', 15, 'reserved'], ['198.51.100.0', 24, 'reserved'], ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'], ['240.0.0.0', 4, 'reserved'],
]
const DENIED_V6: [string, number, string][] = [
  ['::', 128, 'unspecified'], ['::1', 128, 'loopback'], ['::', 96, 'reserved'], ['64:ff9b:1::', 48, 'private'], ['100::', 64, 'reserved'],
  ['2001::', 32, 'reserved (Teredo)'], ['2001:db8::', 32, 'reserved'], ['fc00::', 7, 'private'], ['fe80::', 10, 'link-local'], ['fec0::', 10, 'private'], ['ff00::', 8, 'multicast'],
]
const LOCAL_TTL_MS = 5_000

/** 16 bytes of an IPv6 address (zone ids dropped), or undefined. */
function v6Bytes(addr: string): number[] | undefined {
  const a = addr.replace(/%.*$/, '')
  if (net.isIPv6(a) === false) return undefined
  let tail: number[] = []
  let s = a
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(a)
  if (dotted) {
    tail = dotted[1]!.split('.').map(Number)
    s = a.slice(0, -dotted[1]!.length) + '0:0'
  }
  const [head, rest] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined]
  const hs = head ? head.split(':') : []
  const rs = rest ? rest.split(':') : []
  const groups = rest === undefined ? hs : [...hs, ...Array(8 - hs.length - rs.length).fill('0'), ...rs]
  const out: number[] = []
  for (const g of groups) {
    const n = parseInt(g, 16)
    out.push(n >> 8, n & 255)
  }
  if (tail.length) out.splice(12, 4, ...tail)
  return out
}

/** The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), if any. */
export function embeddedV4(addr: string): string | undefined {
  const b = v6Bytes(addr)
  if (!b) return undefined
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0)
  if (zero(0, 10) && b[10] === 255 && b[11] === 255) return b.slice(12).join('.')
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return b.slice(12).join('.')
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.')
  return undefined
}

/** A host as grants and checks compare it: no IPv6 brackets, no trailing dot of a rooted name. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host.replace(/\.$/, '')
}

/** Classifies addresses: public, or not public with the reason. */
export class AddressRanges {
  private readonly reasons: { list: net.BlockList; family: 'ipv4' | 'ipv6'; why: string }[] = []
  private local: { at: number; addrs: Set<string> } = { at: 0, addrs: new Set() }

  constructor() {
    for (const [list, family] of [[DENIED_V4, 'ipv4'], [DENIED_V6, 'ipv6']] as const) {
      for (const [base, bits, why] of list) {
        const one = new net.BlockList()
        one.addSubnet(base, bits, family)
        this.reasons.push({ list: one, family, why })
      }
    }
  }

  /** This machine's own addresses: a connection there reaches the gateway itself. */
  private localAddresses(): Set<string> {
    const now = Date.now()
    if (now - this.local.at > LOCAL_TTL_MS) {
      const addrs = new Set<string>()
      for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) addrs.add(i.address.replace(/%.*$/, '').toLowerCase())
      this.local = { at: now, addrs }
    }
    return this.local.addrs
  }

  /** Why `address` is not a public destination, or undefined when it is. */
  deniedBecause(address: string): string | undefined {
    const a = address.replace(/%.*$/, '').toLowerCase()
    const v4 = net.isIPv4(a) ? a : embeddedV4(a)
    for (const r of this.reasons) {
      if (v4 !== undefined ? r.family === 'ipv4' && r.list.check(v4, 'ipv4') : r.family === 'ipv6' && r.list.check(a, 'ipv6')) return r.why
    }
    if (this.localAddresses().has(a) || (v4 !== undefined && this.localAddresses().has(v4))) return 'an address of this machine'
    return undefined
  }
}
