// Image references normalised the way docker does (distribution/reference): "alpine" is
// docker.io/library/alpine:latest, "functions/alpine" is docker.io/functions/alpine:latest,
// "ghcr.io/openfaas/alpine" keeps its registry. The store keys images by the normalised form.
import { KindlingError } from '../../errors.js'

export interface ImageReference {
  /** registry host, "docker.io" when none was given */
  domain: string
  /** repository path inside the registry, e.g. "library/alpine" */
  path: string
  /** "latest" when neither tag nor digest was given */
  tag: string
  /** "sha256:<hex>" when the reference pinned a digest */
  digest?: string
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN = /^(?:localhost|(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*)(?::[0-9]+)?$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/

function invalid(ref: string, why: string): KindlingError {
  return new KindlingError('KINDLING_ERR_INVALID_FIELD', `image "${ref}" is not a valid image reference: ${why}`)
}

/** Parses and normalises an image reference; throws KINDLING_ERR_INVALID_FIELD when it is malformed. */
export function parseReference(ref: string): ImageReference {
  const input = ref.trim()
  if (input === '') throw invalid(ref, 'it is empty')
  if (input.length > 512) throw invalid(ref, 'it is longer than 512 characters')
  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) throw invalid(ref, `"${digest}" is not a digest (algorithm:hex)`)
  }
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) throw invalid(ref, `"${tag}" is not a valid tag`)
  }
  let domain = 'docker.io'
  let path = rest
  const slash = rest.indexOf('/')
  if (slash >= 0) {
    const first = rest.slice(0, slash)
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first
      path = rest.slice(slash + 1)
    }
  }
  if (!DOMAIN.test(domain)) throw invalid(ref, `"${domain}" is not a registry host`)
  if (domain === 'index.docker.io') domain = 'docker.io'
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`
  for (const c of path.split('/')) {
    if (c !== c.toLowerCase()) throw invalid(ref, 'the repository name must be lowercase')
    if (!COMPONENT.test(c)) throw invalid(ref, `"${c}" is not a valid name component`)
  }
  if (domain.length + 1 + path.length > 255) throw invalid(ref, 'the repository name is longer than 255 characters')
  return { domain, path, tag: tag ?? 'latest', ...(digest ? { digest } : {}) }
}

/** The full normalised string: "docker.io/library/alpine:latest" (with "@digest" when pinned). */
export function formatReference(r: ImageReference): string {
  return `${r.domain}/${r.path}:${r.tag}${r.digest ? `@${r.digest}` : ''}`
}

/** The short form people type: "alpine:latest", "functions/alpine:latest", "ghcr.io/x/y:1". */
export function familiarReference(r: ImageReference): string {
  let name = `${r.domain}/${r.path}`
  if (r.domain === 'docker.io') name = r.path.startsWith('library/') ? r.path.slice(8) : r.path
  return `${name}:${r.tag}${r.digest ? `@${r.digest}` : ''}`
}

/** Normalises a reference string in one step. */
export function normaliseReference(ref: string): string {
  return formatReference(parseReference(ref))
}
