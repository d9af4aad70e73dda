// The parts of an OCI/Docker image config kindling honours, read into the store's ImageConfig.
import type { ImageConfig } from './store.js'

export interface OciImageConfig {
  architecture?: string
  os?: string
  config?: {
    Env?: string[] | null
    Entrypoint?: string[] | null
    Cmd?: string[] | null
    WorkingDir?: string
    User?: string
    ExposedPorts?: Record<string, unknown> | null
  }
  rootfs?: { type?: string; diff_ids?: string[] }
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined)

export function imageConfigFromOci(c: OciImageConfig): ImageConfig {
  const cfg = c.config ?? {}
  const out: ImageConfig = { env: strings(cfg.Env) ?? [] }
  if (!out.env.some((e) => e.startsWith('PATH='))) out.env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  const entrypoint = strings(cfg.Entrypoint)
  const cmd = strings(cfg.Cmd)
  if (entrypoint?.length) out.entrypoint = entrypoint
  if (cmd?.length) out.cmd = cmd
  if (typeof cfg.WorkingDir === 'string' && cfg.WorkingDir.startsWith('/')) out.workdir = cfg.WorkingDir
  if (typeof cfg.User === 'string' && cfg.User !== '') out.user = cfg.User
  const ports = Object.keys(cfg.ExposedPorts ?? {}).filter((p) => /^\d+(\/(tcp|udp|sctp))?$/.test(p))
  if (ports.length) out.exposedPorts = ports
  return out
}
