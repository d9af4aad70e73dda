// Where kindling may send a callback. X-Callback-Url comes from unauthenticated callers, so without
// a policy any caller could make the gateway POST to cloud metadata (169.254.169.254), the private
// network or the gateway itself (SSRF). Addresses that are not public are denied unless the operator
// grants them in KINDLING_CALLBACK_ALLOW. The check runs when a call is accepted (a literal address
// or localhost: 400) and again on every connection, after DNS resolution, on the very addresses the
// socket connects to (a name that resolves somewhere else later, DNS rebinding, gains nothing).
import dns from 'node:dns'
import net from 'node:net'
import { KindlingError } from '../errors.js'
import { AddressRanges, embeddedV4, stripBrackets } from '../addresses.js'

/** Resolves a name to all its addresses (dns.lookup, so /etc/hosts counts; a test may pass another). */
export type Resolve = (host: string, cb: (err: NodeJS.ErrnoException | null, addrs: dns.LookupAddress[]) => void) => void

/**
 * At most `n` resolutions at once, the others wait in order. dns.lookup blocks a libuv pool thread
 * (4 in all, shared with file and crypto work) until the name's DNS servers answer: callback names
 * under a DNS server that never answers must not stall the rest of the gateway. The wait is bounded
 * too: past `maxWaiting` names a lookup fails at once, and one that waited longer than `maxWaitMs`
 * (its connection has timed out by then) fails instead of taking a slot; the delivery is retried.
 */
export function limitResolve(resolve: Resolve, n: number, maxWaiting = 256, maxWaitMs = 10_000): Resolve {
  let busy = 0
  const waiting: { go: () => void; fail: () => void; since: number }[] = []
  const next = () => {
    busy--
    for (let w = waiting.shift(); w; w = waiting.shift()) {
      if (Date.now() - w.since <= maxWaitMs) return w.go()
      w.fail()
    }
  }
  const refused = (host: string, why: string): NodeJS.ErrnoException => Object.assign(new Error(`lookup of ${host} not started: ${why}`), { code: 'EAI_AGAIN' })
  return (host, cb) => {
    const go = () => {
      busy++
      resolve(host, (err, addrs) => {
        next()
        cb(err, addrs)
      })
    }
    if (busy < n) go()
    else if (waiting.length >= maxWaiting) cb(refused(host, `${maxWaiting} lookups are waiting`), [])
    else waiting.push({ go, fail: () => cb(refused(host, `it waited more than ${maxWaitMs} ms`), []), since: Date.now() })
  }
}

const systemResolve: Resolve = limitResolve((host, cb) => dns.lookup(host, { all: true, verbatim: true }, cb), 2)

export class CallbackDenied extends Error {
  readonly code = 'KINDLING_CALLBACK_DENIED'
}

/** Grants of KINDLING_CALLBACK_ALLOW: addresses and CIDRs (any port), host:port, names and *.domain. */
interface Grants {
  addresses: net.BlockList
  hostPorts: Set<string>
  names: Set<string>
  suffixes: string[]
}

export function parseGrants(entries: readonly string[]): Grants {
  const g: Grants = { addresses: new net.BlockList(), hostPorts: new Set(), names: new Set(), suffixes: [] }
  for (const raw of entries) {
    const e = raw.trim().toLowerCase().replace(/\.$/, '')
    const bad = () => new Error(`KINDLING_CALLBACK_ALLOW: ${JSON.stringify(raw)} is not a host, host:port, address or CIDR`)
    if (e.includes('/')) {
      const [base, bits] = e.split('/') as [string, string]
      const family = net.isIP(base)
      if (!family || !/^\d+$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) throw bad()
      g.addresses.addSubnet(base, Number(bits), family === 4 ? 'ipv4' : 'ipv6')
      continue
    }
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(e)
    const hostPort = bracketed ? [bracketed[1]!, bracketed[2]] : net.isIPv6(e) ? [e, undefined] : (/^([^:]+)(?::(\d+))?$/.exec(e) ?? []).slice(1)
    const [host, port] = hostPort as [string | undefined, string | undefined]
    if (!host || (port !== undefined && Number(port) > 65535)) throw bad()
    if (port !== undefined) g.hostPorts.add(`${host}:${Number(port)}`)
    else if (net.isIP(host)) g.addresses.addAddress(host, net.isIPv6(host) ? 'ipv6' : 'ipv4')
    else if (host.startsWith('*.')) g.suffixes.push(host.slice(1))
    else if (/^[a-z0-9.-]+$/.test(host)) g.names.add(host)
    else throw bad()
  }
  return g
}

export class CallbackPolicy {
  private readonly ranges = new AddressRanges()
  private readonly grants: Grants

  constructor(allow: readonly string[], private readonly resolve: Resolve = systemResolve) {
    this.grants = parseGrants(allow)
  }

  /** Why `address` is not a public destination, or undefined when it is. */
  private deniedBecause(address: string): string | undefined {
    return this.ranges.deniedBecause(address)
  }

  private granted(host: string, port: number, address: string | undefined): boolean {
    const g = this.grants
    const h = stripBrackets(host).toLowerCase()
    if (g.names.has(h) || g.suffixes.some((s) => h.endsWith(s)) || g.hostPorts.has(`${h}:${port}`)) return true
    if (address === undefined) return false
    const a = address.replace(/%.*$/, '').toLowerCase()
    if (g.hostPorts.has(`${a}:${port}`)) return true
    const v4 = net.isIPv4(a) ? a : embeddedV4(a)
    return g.addresses.check(a, net.isIPv4(a) ? 'ipv4' : 'ipv6') || (v4 !== undefined && g.addresses.check(v4, 'ipv4'))
  }

  /** Throws CallbackDenied unless a connection to `address` for `host`:`port` is allowed. */
  checkAddress(host: string, port: number, address: string): void {
    const why = this.deniedBecause(address)
    if (why !== undefined && !this.granted(host, port, address)) {
      const h = stripBrackets(host)
      throw new CallbackDenied(`${h}${h === address ? '' : ` (${address})`} is not a public address (${why}) and KINDLING_CALLBACK_ALLOW does not grant it`)
    }
  }

  /** The addresses of `host` a connection may use; throws CallbackDenied when there is none. */
  allowedOf(host: string, port: number, addresses: readonly string[]): string[] {
    let first: unknown
    const ok = addresses.filter((a) => {
      try {
        this.checkAddress(host, port, a)
        return true
      } catch (e) {
        first ??= e
        return false
      }
    })
    if (ok.length === 0) throw first ?? new CallbackDenied(`${stripBrackets(host)} has no address`)
    return ok
  }

  /**
   * The accept-time check of an X-Callback-Url: http(s), no credentials, and no literal address (or
   * localhost) the policy denies. Returns the normalised URL.
   */
  checkUrl(value: string): URL {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new KindlingError('KINDLING_ERR_INVALID_CALLBACK_URL', `X-Callback-Url ${JSON.stringify(value)} is not a URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new KindlingError('KINDLING_ERR_INVALID_CALLBACK_URL', `X-Callback-Url ${JSON.stringify(value)} is not http or https`)
    if (url.username !== '' || url.password !== '') throw new KindlingError('KINDLING_ERR_INVALID_CALLBACK_URL', 'X-Callback-Url must not carry credentials (user:password@)')
    const host = stripBrackets(url.hostname)
    const port = portOf(url)
    // a literal address is checked now; so is localhost, which resolves to loopback without DNS (RFC 6761)
    const literals = net.isIP(host) ? [host] : host === 'localhost' || host.endsWith('.localhost') ? ['127.0.0.1', '::1'] : []
    try {
      if (literals.length) this.allowedOf(url.hostname, port, literals)
    } catch (e) {
      if (e instanceof CallbackDenied) throw new KindlingError('KINDLING_ERR_CALLBACK_DENIED', `X-Callback-Url: ${e.message}`)
      throw e
    }
    return url
  }

  /**
   * A `lookup` for net.connect that resolves the name, checks every address it gets and hands the
   * socket only the allowed ones (none: the connection fails). Literal addresses never reach a
   * lookup: check them with checkAddress.
   */
  lookupFor(port: number): net.LookupFunction {
    return (hostname, options, callback) => {
      const cb = callback as (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void
      this.resolve(hostname, (err, found) => {
        if (err) return cb(err, '', 0)
        const family = typeof options.family === 'number' ? options.family : 0
        let addrs = family ? found.filter((a) => a.family === family) : found
        try {
          const ok = new Set(this.allowedOf(hostname, port, addrs.map((a) => a.address)))
          addrs = addrs.filter((a) => ok.has(a.address))
        } catch (e) {
          return cb(e as NodeJS.ErrnoException, '', 0)
        }
        if (options.all) cb(null, addrs)
        else cb(null, addrs[0]!.address, addrs[0]!.family)
      })
    }
  }
}

export function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
}
