// The image store as the tier and the CLI use it: busybox (and with it functions/alpine) is built
// on first use from the host's busybox-static, so OpenFaaS toolbox deployments work unchanged.
import fs from 'node:fs'
import { KindlingError } from '../../errors.js'
import { buildBusyboxImage } from './builders.js'
import { pullImage } from './pull.js'
import { endpointFor, type RegistrySettings } from './registry-client.js'
import { findStaticBusybox } from './elf.js'
import { normaliseReference, parseReference } from './reference.js'
import { DEFAULT_BUSYBOX_REF, ImageStore } from './store.js'

export { buildBusyboxImage, buildNodeImage, DEFAULT_PATH, mergeEnv } from './builders.js'
export { findStaticBusybox, isStaticElf } from './elf.js'
export { importRootfsTar } from './import-tar.js'
export { detectArchive, importImageArchive } from './archive-import.js'
export { familiarReference, normaliseReference, parseReference } from './reference.js'
export { BUILTIN_ALIASES, DEFAULT_BUSYBOX_REF, DEFAULT_NODE_REF, ImageStore } from './store.js'
export type { ImageConfig, ImageListEntry, PullContext, ResolvedImage } from './store.js'
export { pullImage } from './pull.js'
export { parseMirrors } from './mirrors.js'
export type { RegistrySettings } from './registry-client.js'

export interface RegistryOptions {
  settings: RegistrySettings
  /** a docker config.json with credentials for every namespace (KINDLING_REGISTRY_AUTH_FILE) */
  authFile?: string
}

/** The store; with `registry`, missing images are pulled (from their mirror when one is set). */
export function openImageStore(dataDir: string, registry?: RegistryOptions): ImageStore {
  const busyboxRef = normaliseReference(DEFAULT_BUSYBOX_REF)
  const store: ImageStore = new ImageStore(dataDir, {
    autoBuild: async (ref) => {
      if (ref !== busyboxRef || !findStaticBusybox()) return false
      buildBusyboxImage(store)
      return true
    },
    ...(registry
      ? {
          pull: {
            run: (ref, ctx) => pullImage(store, ref, { settings: registry.settings, authConfigs: authConfigs(registry, ctx.authConfig), log: ctx.log }),
            hasMirror: (domain) => endpointFor(parseReference(`${domain}/x`), registry.settings).mirror,
          },
        }
      : {}),
  })
  return store
}

/** The namespace's registry-auth secret first, then the operator's auth file (read at each pull). */
export function authConfigs(registry: RegistryOptions, secret: Buffer | undefined): (string | Buffer)[] {
  const out: (string | Buffer)[] = []
  if (secret) out.push(secret)
  if (registry.authFile) {
    try {
      out.push(fs.readFileSync(registry.authFile))
    } catch (e) {
      throw new KindlingError('KINDLING_ERR_REGISTRY_AUTH', `the registry auth file ${registry.authFile} (KINDLING_REGISTRY_AUTH_FILE) cannot be read: ${(e as Error).message}`)
    }
  }
  return out
}
