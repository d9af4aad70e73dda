// Reads the imports and exports of a component from the WIT that `wasm-tools component wit` prints
// for it (one `world root { ... }` block).

export interface ComponentWorld {
  /** interface imports, versioned (wasi:http/types@0.2.0) */
  imports: string[]
  /** interface exports, versioned */
  exports: string[]
  /** imports that are not interfaces (functions, inline interfaces, resources), by name */
  otherImports: string[]
  /** exports that are not interfaces */
  otherExports: string[]
}

const INTERFACE_ITEM = /^(import|export) ([a-z][a-z0-9-]*:[a-z][a-z0-9-]*(?::[a-z][a-z0-9-]*)*\/[a-z][a-z0-9-]*(?:@[0-9A-Za-z.+-]+)?);$/
const OTHER_ITEM = /^(import|export) (%?[a-z][a-z0-9-]*)\s*:/

export function parseWorld(wit: string): ComponentWorld {
  const world: ComponentWorld = { imports: [], exports: [], otherImports: [], otherExports: [] }
  const lines = wit.split('\n')
  const start = lines.findIndex((l) => /^world \S+ \{$/.test(l.trim()) && !l.startsWith(' '))
  if (start < 0) throw new Error('the component has no world')
  let depth = 0
  for (const raw of lines.slice(start + 1)) {
    const line = raw.trim()
    if (depth === 0) {
      if (line === '}') break
      const i = INTERFACE_ITEM.exec(line)
      if (i) (i[1] === 'import' ? world.imports : world.exports).push(i[2]!)
      else {
        const o = OTHER_ITEM.exec(line)
        if (o) (o[1] === 'import' ? world.otherImports : world.otherExports).push(o[2]!)
      }
    }
    depth += (line.match(/\{/g)?.length ?? 0) - (line.match(/\}/g)?.length ?? 0)
  }
  return world
}
