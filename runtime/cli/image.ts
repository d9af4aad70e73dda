// `kindling image ...`: the local image store of the container tier.
//
//   kindling image import [NAME:TAG] ARCHIVE.tar [--env KEY=VALUE]... [--workdir DIR]
//   kindling image pull REF
//   kindling image gc
//   kindling image build busybox [NAME:TAG] [--add SRC:DEST]... [--env KEY=VALUE]...
//   kindling image build node [NAME:TAG] [--add SRC:DEST]... [--env KEY=VALUE]... [--node PATH]
//   kindling image list [--json]
//   kindling image tag SOURCE NAME:TAG
//   kindling image remove NAME:TAG
import path from 'node:path'
import {
  buildBusyboxImage,
  buildNodeImage,
  DEFAULT_BUSYBOX_REF,
  DEFAULT_NODE_REF,
  authConfigs,
  type ImageListEntry,
  importRootfsTar,
  openImageStore,
  parseMirrors,
  pullImage,
  type RegistryOptions,
} from '../../isolation/container/images/index.js'
import { type Config, loadConfig } from '../config.js'
import { isKindlingError } from '../errors.js'

export const IMAGE_USAGE = `usage:
  kindling image import [NAME:TAG] ARCHIVE.tar [--env KEY=VALUE]... [--workdir DIR]
      import a docker save or OCI layout archive (with its config; the name is optional when
      the archive has one), or a root filesystem tar (docker export output; "-" reads stdin)
  kindling image pull REF
      pull from its registry (or the mirror in KINDLING_REGISTRY_MIRRORS; credentials from
      KINDLING_REGISTRY_AUTH_FILE; plain HTTP only for KINDLING_INSECURE_REGISTRIES)
  kindling image gc
      remove layer blobs and image files no image name uses
  kindling image build busybox [NAME:TAG] [--add SRC:DEST]... [--env KEY=VALUE]...
      busybox from the host's busybox-static (default name ${DEFAULT_BUSYBOX_REF};
      functions/alpine:latest resolves to it)
  kindling image build node [NAME:TAG] [--add SRC:DEST]... [--env KEY=VALUE]... [--node PATH]
      the host's node binary and its libraries, plus busybox (default name ${DEFAULT_NODE_REF})
  kindling image list [--json]
  kindling image tag SOURCE NAME:TAG
  kindling image remove NAME:TAG`

interface Parsed {
  positional: string[]
  env: string[]
  add: [string, string][]
  workdir?: string
  node?: string
  json: boolean
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Parsed {
  const out: Parsed = { positional: [], env: [], add: [], json: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = (): string => {
      const eq = a.indexOf('=')
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1)
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${a} needs a value`)
      return v
    }
    const flag = a.startsWith('--') ? a.split('=')[0] : a
    switch (flag) {
      case '--env':
      case '-e': {
        const kv = value()
        if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(kv)) throw new UsageError(`--env takes KEY=VALUE, got "${kv}"`)
        out.env.push(kv)
        break
      }
      case '--add': {
        const spec = value()
        const i2 = spec.lastIndexOf(':')
        if (i2 <= 0 || !spec.slice(i2 + 1).startsWith('/')) throw new UsageError(`--add takes HOSTPATH:/PATH/IN/IMAGE, got "${spec}"`)
        out.add.push([spec.slice(0, i2), spec.slice(i2 + 1)])
        break
      }
      case '--workdir':
        out.workdir = value()
        break
      case '--node':
        out.node = value()
        break
      case '--json':
        out.json = true
        break
      default:
        if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`)
        out.positional.push(a)
    }
  }
  return out
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`
}

function printTable(entries: ImageListEntry[]): void {
  if (!entries.length) {
    console.log(`no images yet; try: kindling image build busybox`)
    return
  }
  const rows = entries.map((e) => [e.name, e.id.slice(0, 12), mib(e.sizeBytes), e.digest ? e.digest.slice(0, 19) : '-', e.aliasOf ? `alias of ${e.aliasOf}` : (e.origin ?? e.source)])
  const head = ['NAME', 'ID', 'SIZE', 'DIGEST', 'ORIGIN']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd())
}

/** Runs one `kindling image` subcommand; returns the process exit code. */
export async function imageCommand(argv: string[], dataDir: string, config: Config = loadConfig({})): Promise<number> {
  const registry: RegistryOptions = {
    settings: {
      mirrors: parseMirrors(config.registryMirrors),
      insecure: config.insecureRegistries,
      timeoutMs: config.registryTimeoutMs,
      maxManifestBytes: config.imageMaxManifestBytes,
      maxLayerBytes: config.imageMaxLayerBytes,
      maxUnpackedBytes: config.imageMaxUnpackedBytes,
    },
    ...(config.registryAuthFile ? { authFile: config.registryAuthFile } : {}),
  }
  const store = openImageStore(path.resolve(dataDir))
  const [sub, ...rest] = argv
  try {
    const a = parseArgs(rest)
    switch (sub) {
      case 'import': {
        const [ref, tar] = a.positional.length === 1 ? [undefined, a.positional[0]] : a.positional
        if (!tar || a.positional.length > 2) throw new UsageError('import takes [NAME:TAG] and an archive or rootfs tar')
        const e = await importRootfsTar(store, ref, tar, { env: a.env, maxManifestBytes: registry.settings.maxManifestBytes, maxUnpackedBytes: registry.settings.maxUnpackedBytes })
        if (a.workdir) store.setWorkdir(e.ref, a.workdir)
        console.log(`imported ${e.name} (${e.id.slice(0, 12)}, ${mib(e.sizeBytes)})`)
        return 0
      }
      case 'build': {
        const [kind, ref] = a.positional
        if (a.positional.length > 2) throw new UsageError('build takes busybox|node and an optional NAME:TAG')
        let e: ImageListEntry
        if (kind === 'busybox') e = buildBusyboxImage(store, { ref, add: a.add, env: a.env })
        else if (kind === 'node') e = buildNodeImage(store, { ref, add: a.add, env: a.env, node: a.node })
        else throw new UsageError(`build knows busybox and node, not "${kind ?? ''}"`)
        if (a.workdir) store.setWorkdir(e.ref, a.workdir)
        console.log(`built ${e.name} (${e.id.slice(0, 12)}, ${mib(e.sizeBytes)})`)
        return 0
      }
      case 'pull': {
        const [ref] = a.positional
        if (!ref || a.positional.length > 1) throw new UsageError('pull takes one image reference')
        const e = await pullImage(store, ref, { settings: registry.settings, authConfigs: authConfigs(registry, undefined), log: (t) => console.error(t) })
        console.log(`pulled ${e.name} (${e.digest ?? e.id.slice(0, 12)}, ${mib(e.sizeBytes)})`)
        return 0
      }
      case 'gc': {
        const r = store.gc()
        console.log(`removed ${r.images} unused image folders and ${r.blobs} unused layer blobs (${mib(r.bytes)}); layer blobs kept: ${mib(store.blobBytes())}`)
        return 0
      }
      case 'list':
      case 'ls': {
        const entries = store.list()
        if (a.json) console.log(JSON.stringify(entries, null, 2))
        else printTable(entries)
        return 0
      }
      case 'tag': {
        const [from, to] = a.positional
        if (!from || !to || a.positional.length > 2) throw new UsageError('tag takes SOURCE and NAME:TAG')
        const e = store.tag(from, to)
        console.log(`tagged ${e.name} (${e.id.slice(0, 12)})`)
        return 0
      }
      case 'remove':
      case 'rm': {
        const [ref] = a.positional
        if (!ref || a.positional.length > 1) throw new UsageError('remove takes NAME:TAG')
        const r = store.remove(ref)
        if (!r.removed) {
          console.error(`no image named ${ref}${store.lookup(ref) ? ' (it is a built-in alias; remove the image it stands for)' : ''}`)
          return 1
        }
        console.log(r.deletedImage ? `removed ${ref} and its files` : `removed the name ${ref} (the image has other names)`)
        return 0
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(IMAGE_USAGE)
        return sub === undefined ? 2 : 0
      default:
        throw new UsageError(`unknown subcommand "${sub}"`)
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`kindling image: ${e.message}\n${IMAGE_USAGE}`)
      return 2
    }
    console.error(`kindling image: ${isKindlingError(e) ? `${e.message} (${e.code})` : (e as Error).message}`)
    return 1
  }
}
