// Module entry points for the processes and workers kindling starts (app hosts, workers, the
// spawner, jco, benchmark helpers): the sibling .ts file with tsx when running from source, the
// built .js file without a loader when running from dist/. The one place that tells the two apart.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The kindling checkout: the nearest folder above this file with kindling's package.json (works from dist/ too). */
export const REPO_ROOT = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)))

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'kindling') return dir
    } catch {}
    if (path.dirname(dir) === dir) return start
  }
}

export interface ModuleEntry {
  /** file URL of the module (what `import()` and `--kind=` take) */
  url: string
  /** absolute file path (what `node`, `fork` and Worker take) */
  path: string
  /** node flags the module needs: `--import tsx` from source, none when built */
  execArgv: string[]
}

/** true when the calling module (its import.meta.url) is a .ts source run under tsx. */
export function runningFromSource(importMetaUrl: string): boolean {
  return new URL(importMetaUrl).pathname.endsWith('.ts')
}

/**
 * The module `name` (a path relative to the caller, without extension, e.g. 'worker' or
 * '../apphost/host-main') in the same form as the caller: .ts from source, .js when built.
 */
export function siblingModule(importMetaUrl: string, name: string): ModuleEntry {
  const fromSource = runningFromSource(importMetaUrl)
  const url = new URL(`${name.startsWith('.') ? '' : './'}${name}.${fromSource ? 'ts' : 'js'}`, importMetaUrl)
  return { url: url.href, path: fileURLToPath(url), execArgv: fromSource ? ['--import', 'tsx'] : [] }
}
