// KINDLING_REGISTRY_MIRRORS, parsed (the config module checks it at start with this too).
import { KindlingError } from '../../errors.js'

/** "docker.io=http://127.0.0.1:5000,ghcr.io=https://mirror" -> record; throws on a malformed entry. */
export function parseMirrors(list: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const item of list) {
    const i = item.indexOf('=')
    const host = item.slice(0, i).trim().toLowerCase()
    const url = item.slice(i + 1).trim()
    let ok = i > 0 && host !== ''
    try {
      const u = new URL(url)
      ok &&= u.protocol === 'http:' || u.protocol === 'https:'
    } catch {
      ok = false
    }
    if (!ok) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `KINDLING_REGISTRY_MIRRORS: "${item}" is not registry=URL (e.g. docker.io=http://127.0.0.1:5000)`)
    out[host] = url
  }
  return out
}
