// How a pulled image's config turns into what the container tier runs: registry settings from the
// config table, the image's User resolved inside its rootfs, and the command of an image that has
// no watchdog variables (its Entrypoint and Cmd serve HTTP themselves, as OpenFaaS expects).
import fs from 'node:fs'
import { KindlingError } from '../errors.js'
import type { TierSettings } from '../tier.js'
import type { RegistryOptions } from './images/index.js'
import { resolveFileInRoot } from './images/layer-extract.js'
import { parseMirrors } from './images/mirrors.js'
import type { ImageConfig } from './images/store.js'
import type { ContainerTierOptions } from './plan.js'

/** The secret of a namespace that holds its registry credentials (a docker config.json). */
export const REGISTRY_AUTH_SECRET = 'registry-auth'

export function registryOptions(s: TierSettings, over: ContainerTierOptions['registry']): RegistryOptions | undefined {
  if (over === false) return undefined
  const o = over ?? {}
  const authFile = o.authFile ?? s.registryAuthFile
  return {
    settings: {
      mirrors: o.mirrors ?? parseMirrors(s.registryMirrors),
      insecure: o.insecure ?? s.insecureRegistries,
      timeoutMs: o.timeoutMs ?? s.registryTimeoutMs,
      maxManifestBytes: o.maxManifestBytes ?? s.imageMaxManifestBytes,
      maxLayerBytes: o.maxLayerBytes ?? s.imageMaxLayerBytes,
      maxUnpackedBytes: o.maxUnpackedBytes ?? s.imageMaxUnpackedBytes,
    },
    ...(authFile ? { authFile } : {}),
  }
}

const WATCHDOGS = /(^|\/)(fwatchdog|of-watchdog|watchdog)$/

/** Entrypoint + Cmd of an image that is its own server, and its port; undefined for watchdog images. */
export function serverCommand(c: ImageConfig): { argv: string[]; port: number } | undefined {
  const argv = [...(c.entrypoint ?? []), ...(c.cmd ?? [])]
  if (!argv.length || WATCHDOGS.test(argv[0]!)) return undefined
  const tcp = (c.exposedPorts ?? []).map((p) => /^(\d+)(\/tcp)?$/.exec(p)).find((m) => m)
  const port = tcp ? Number(tcp[1]) : 8080
  return { argv, port: port > 0 && port < 65536 ? port : 8080 }
}

function lookupId(rootfs: string, file: string, name: string): { id: number; gid?: number } | undefined {
  const p = resolveFileInRoot(rootfs, file)
  if (!p) return undefined
  let text: string
  try {
    const st = fs.statSync(p)
    if (!st.isFile() || st.size > 4 * 1024 * 1024) return undefined
    text = fs.readFileSync(p, 'utf8')
  } catch {
    return undefined
  }
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return { id: Number(f[2]), ...(f[3] && /^\d+$/.test(f[3]) ? { gid: Number(f[3]) } : {}) }
  }
  return undefined
}

/** "1000", "1000:1000", "app", "app:staff" -> uid and gid, names looked up in the image's /etc files. */
export function resolveUser(rootfs: string, user: string, image: string): { uid: number; gid: number } {
  const [u, g] = user.split(':', 2) as [string, string | undefined]
  let uid: number
  let gid: number | undefined
  if (/^\d+$/.test(u)) {
    uid = Number(u)
    gid = lookupByUid(rootfs, uid)
  } else {
    const found = lookupId(rootfs, '/etc/passwd', u)
    if (!found) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `image ${image} runs as user "${u}", which its /etc/passwd does not list`)
    uid = found.id
    gid = found.gid
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g)
    else {
      const found = lookupId(rootfs, '/etc/group', g)
      if (!found) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `image ${image} runs as group "${g}", which its /etc/group does not list`)
      gid = found.id
    }
  }
  if (uid > 0xfffffffe || (gid ?? 0) > 0xfffffffe) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `image ${image}: user "${user}" is out of range`)
  return { uid, gid: gid ?? 0 } // as Docker: a uid without a passwd entry gets group 0
}

function lookupByUid(rootfs: string, uid: number): number | undefined {
  const p = resolveFileInRoot(rootfs, '/etc/passwd')
  if (!p) return undefined
  try {
    for (const line of fs.readFileSync(p, 'utf8').split('\n')) {
      const f = line.split(':')
      if (f[2] === String(uid) && f[3] && /^\d+$/.test(f[3])) return Number(f[3])
    }
  } catch {
    // no passwd: gid = uid
  }
  return undefined
}
