// The image store as the tier and the CLI use it: busybox (and with it functions/alpine) is built
// on first use from the host's busybox-static, so OpenFaaS toolbox deployments work unchanged.
import { buildBusyboxImage } from './builders.js'
import { findStaticBusybox } from './elf.js'
import { normaliseReference } from './reference.js'
import { DEFAULT_BUSYBOX_REF, ImageStore } from './store.js'

export { buildBusyboxImage, buildNodeImage, DEFAULT_PATH, mergeEnv } from './builders.js'
export { findStaticBusybox, isStaticElf } from './elf.js'
export { importRootfsTar } from './import-tar.js'
export { familiarReference, normaliseReference, parseReference } from './reference.js'
export { BUILTIN_ALIASES, DEFAULT_BUSYBOX_REF, DEFAULT_NODE_REF, ImageStore } from './store.js'
export type { ImageConfig, ImageListEntry, ResolvedImage } from './store.js'

export function openImageStore(dataDir: string): ImageStore {
  const busyboxRef = normaliseReference(DEFAULT_BUSYBOX_REF)
  const store: ImageStore = new ImageStore(dataDir, {
    autoBuild: async (ref) => {
      if (ref !== busyboxRef || !findStaticBusybox()) return false
      buildBusyboxImage(store)
      return true
    },
  })
  return store
}
