// A read-only, in-memory directory tree that WASI preopens expose to a function (secrets are
// mounted this way at /var/openfaas/secrets). Functions can read files and list directories; every
// write is refused with EROFS.

export type FsNode = { kind: 'file'; data: Uint8Array; ino: number } | { kind: 'dir'; children: Map<string, FsNode>; ino: number }

let nextIno = 1

export function fileNode(data: Uint8Array): FsNode {
  return { kind: 'file', data, ino: nextIno++ }
}

export function dirNode(children: Record<string, FsNode> = {}): FsNode {
  return { kind: 'dir', children: new Map(Object.entries(children)), ino: nextIno++ }
}

/** Builds a tree from flat relative paths ("a/b.txt" -> bytes). */
export function treeFromFiles(files: Record<string, Uint8Array | string>): FsNode {
  const root = dirNode()
  for (const [rel, content] of Object.entries(files)) {
    const parts = rel.split('/').filter((p) => p && p !== '.')
    let dir = root
    for (const p of parts.slice(0, -1)) {
      if (dir.kind !== 'dir') break
      let next = dir.children.get(p)
      if (!next) {
        next = dirNode()
        dir.children.set(p, next)
      }
      dir = next
    }
    const leaf = parts.at(-1)
    if (leaf && dir.kind === 'dir') {
      dir.children.set(leaf, fileNode(typeof content === 'string' ? new TextEncoder().encode(content) : content))
    }
  }
  return root
}

/** A preopened directory as plain data, for plans that travel by message (file contents base64). */
export interface PlannedPreopen {
  guestPath: string
  files: Record<string, string>
}

/** The guest-visible tree of a planned preopen. */
export function preopenFromPlan(p: PlannedPreopen): Preopen {
  return { guestPath: p.guestPath, root: treeFromFiles(Object.fromEntries(Object.entries(p.files).map(([k, v]) => [k, Buffer.from(v, 'base64')]))) }
}

export interface Preopen {
  /** the absolute path the guest sees, e.g. /var/openfaas/secrets */
  guestPath: string
  root: FsNode
}

/** Resolves a relative path inside a preopened root; null when missing or escaping the root. */
export function resolvePath(root: FsNode, rel: string): FsNode | null | 'escape' {
  const stack: FsNode[] = [root]
  for (const part of rel.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (stack.length === 1) return 'escape'
      stack.pop()
      continue
    }
    const cur = stack[stack.length - 1]!
    if (cur.kind !== 'dir') return null
    const next = cur.children.get(part)
    if (!next) return null
    stack.push(next)
  }
  return stack[stack.length - 1]!
}
