// bench/ and paper/ use kindling through its public surface only (issue 11 item 7): runtime/index.ts
// and isolation/index.ts. A new import of an internal file fails here; export it from an index.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { REPO_ROOT } from '../runtime/version.js'

const SURFACE = new Set([path.join(REPO_ROOT, 'runtime', 'index.js'), path.join(REPO_ROOT, 'isolation', 'index.js')])
const INTERNAL = [path.join(REPO_ROOT, 'runtime') + path.sep, path.join(REPO_ROOT, 'isolation') + path.sep]
/** static imports and exports (`from '...'`), dynamic imports and side-effect imports */
const SPECIFIERS = /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm

function sources(dir: string): string[] {
  const out: string[] = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'results') out.push(...sources(p))
    } else if (/\.(ts|mts|js|mjs)$/.test(e.name)) {
      out.push(p)
    }
  }
  return out
}

/** Imports of runtime/ or isolation/ files other than the two index files, as "file: specifier". */
function internalImports(files: string[], read = (f: string) => fs.readFileSync(f, 'utf8')): string[] {
  const bad: string[] = []
  for (const file of files) {
    for (const m of read(file).matchAll(SPECIFIERS)) {
      const spec = m[1] ?? m[2] ?? m[3]!
      if (!spec.startsWith('.')) continue
      const target = path.resolve(path.dirname(file), spec).replace(/\.ts$/, '.js')
      if (INTERNAL.some((d) => target.startsWith(d)) && !SURFACE.has(target)) bad.push(`${path.relative(REPO_ROOT, file)}: ${spec}`)
    }
  }
  return bad
}

describe('public surface of runtime/ and isolation/', () => {
  it('is all that bench/ and paper/ import', () => {
    const files = [...sources(path.join(REPO_ROOT, 'bench')), ...sources(path.join(REPO_ROOT, 'paper'))]
    assert.ok(files.length > 20, 'found the bench and paper sources')
    assert.deepEqual(internalImports(files), [])
  })

  it('catches a static, a dynamic and a re-export of an internal file', () => {
    const file = path.join(REPO_ROOT, 'bench', 'scopes', 'x.ts')
    const text = [
      "import { REPO_ROOT } from '../../runtime/index.js'",
      "import type { Sandbox } from '../../isolation/tier.js'",
      "const t = await import('../../isolation/thread/tier.js')",
      "export { loadConfig } from '../../runtime/config.js'",
      "import { x } from '../lib/local.js'",
    ].join('\n')
    const found = internalImports([file], () => text).sort()
    assert.deepEqual(found, ['../../isolation/thread/tier.js', '../../isolation/tier.js', '../../runtime/config.js'].map((s) => `bench/scopes/x.ts: ${s}`).sort())
  })
})
