// wasi:filesystem 0.2 over the same read-only in-memory trees the preview1 shim preopens for core
// modules (the deployment's secrets at /var/openfaas/secrets). Files can be opened, read, stat'ed
// and listed; anything that would write answers `read-only`. No host file is reachable.
import { type FsNode, type Preopen, resolvePath } from '../../wasm/wasi-fs.js'
import { type CallClock, fail, InputStream } from './io.js'

type DescriptorType = 'directory' | 'regular-file'
type ErrorCode = 'access' | 'bad-descriptor' | 'invalid' | 'is-directory' | 'no-entry' | 'not-directory' | 'not-permitted' | 'read-only'
interface OpenFlags {
  create?: boolean
  directory?: boolean
  exclusive?: boolean
  truncate?: boolean
}
interface DescriptorFlags {
  write?: boolean
  mutateDirectory?: boolean
}

const refuse = (code: ErrorCode): never => fail(code)
const readOnly = (): never => refuse('read-only')

const typeOf = (node: FsNode): DescriptorType => (node.kind === 'dir' ? 'directory' : 'regular-file')

function statOf(node: FsNode) {
  return { type: typeOf(node), linkCount: 1n, size: BigInt(node.kind === 'file' ? node.data.length : 0) }
}

/** One entry after another, then none (`undefined`: the end of the directory). */
export class DirectoryEntryStream {
  private next = 0
  constructor(private readonly entries: { type: DescriptorType; name: string }[]) {}

  readDirectoryEntry(): { type: DescriptorType; name: string } | undefined {
    return this.entries[this.next++]
  }
}

/** An open file or directory of a preopened tree. */
export class Descriptor {
  constructor(
    private readonly node: FsNode,
    private readonly clock: () => CallClock,
  ) {}

  private at(path: string): FsNode {
    if (this.node.kind !== 'dir') return refuse('not-directory')
    if (path.startsWith('/')) return refuse('not-permitted')
    const found = resolvePath(this.node, path)
    if (found === 'escape') return refuse('not-permitted')
    return found ?? refuse('no-entry')
  }

  private file(): Uint8Array {
    if (this.node.kind !== 'file') return refuse('is-directory')
    return this.node.data
  }

  openAt(_pathFlags: unknown, path: string, openFlags: OpenFlags, flags: DescriptorFlags): Descriptor {
    if (openFlags.create || openFlags.truncate || openFlags.exclusive || flags.write || flags.mutateDirectory) readOnly()
    const node = this.at(path)
    if (openFlags.directory && node.kind !== 'dir') refuse('not-directory')
    return new Descriptor(node, this.clock)
  }

  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    const data = this.file()
    const start = Math.min(Number(offset), data.length)
    const end = Math.min(start + Number(length), data.length)
    return [data.slice(start, end), end >= data.length]
  }

  readViaStream(offset: bigint): InputStream {
    return new InputStream(this.clock(), this.file().subarray(Math.min(Number(offset), this.file().length)))
  }

  readDirectory(): DirectoryEntryStream {
    if (this.node.kind !== 'dir') return refuse('not-directory')
    return new DirectoryEntryStream([...this.node.children].map(([name, child]) => ({ type: typeOf(child), name })))
  }

  getType(): DescriptorType {
    return typeOf(this.node)
  }

  getFlags(): { read: true } {
    return { read: true }
  }

  stat() {
    return statOf(this.node)
  }

  statAt(_pathFlags: unknown, path: string) {
    return statOf(this.at(path))
  }

  isSameObject(other: Descriptor): boolean {
    return other.node === this.node
  }

  metadataHash(): { lower: bigint; upper: bigint } {
    return { lower: BigInt(this.node.ino), upper: 0n }
  }

  metadataHashAt(_pathFlags: unknown, path: string): { lower: bigint; upper: bigint } {
    return { lower: BigInt(this.at(path).ino), upper: 0n }
  }

  readlinkAt(): never {
    return refuse('invalid')
  }

  advise(): void {}
  sync(): void {}
  syncData(): void {}

  write = readOnly
  writeViaStream = readOnly
  appendViaStream = readOnly
  setSize = readOnly
  setTimes = readOnly
  setTimesAt = readOnly
  createDirectoryAt = readOnly
  removeDirectoryAt = readOnly
  unlinkFileAt = readOnly
  renameAt = readOnly
  linkAt = readOnly
  symlinkAt = readOnly
}

export function filesystemImports(preopens: readonly Preopen[], clock: () => CallClock): Record<string, Record<string, unknown>> {
  return {
    'wasi:filesystem/preopens': {
      getDirectories: (): [Descriptor, string][] => preopens.map((p) => [new Descriptor(p.root, clock), p.guestPath]),
    },
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      // every error kindling's streams raise is a plain stream error, never a filesystem one
      filesystemErrorCode: () => undefined,
    },
  }
}
