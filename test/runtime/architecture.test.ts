// The folders are the architecture (README "Architecture"): the gateway and the async queue talk
// to the registry and the dispatcher only, never to a tier; the registry knows nothing of pools or
// tiers. These checks read the import lines, so a shortcut fails here rather than in review.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { REPO_ROOT } from '../../runtime/version.js'

const RUNTIME = path.join(REPO_ROOT, 'runtime')
const ISOLATION = path.join(REPO_ROOT, 'isolation')

function sourcesUnder(dir: string): string[] {
  const out: string[] = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...sourcesUnder(p))
    else if (/\.(ts|mts|js|mjs)$/.test(e.name)) out.push(p)
  }
  return out
}

/** Every module a file names in import/export ... from, a bare import, or import(), resolved when relative. */
export function importsOf(file: string, text = fs.readFileSync(file, 'utf8')): string[] {
  const specs: string[] = []
  const patterns = [
    /(?:^|[\n;])\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const re of patterns) for (const m of text.matchAll(re)) specs.push(m[1]!)
  return specs.map((s) => (s.startsWith('.') ? path.resolve(path.dirname(file), s) : s))
}

function offenders(dirs: string[], forbidden: string): string[] {
  const bad: string[] = []
  for (const dir of dirs) {
    for (const file of sourcesUnder(path.join(RUNTIME, dir))) {
      for (const target of importsOf(file)) {
        if (target === forbidden || target.startsWith(forbidden + path.sep)) bad.push(`${path.relative(REPO_ROOT, file)} imports ${path.relative(REPO_ROOT, target)}`)
      }
    }
  }
  return bad
}

describe('architecture', () => {
  it('reads multi-line, type-only, bare and dynamic imports', () => {
    const f = path.join(RUNTIME, 'gateway', 'x.ts')
    const text = "import type {\n  A,\n  B,\n} from '../../isolation/tier.js'\nimport '../x.js'\nexport { C } from './c.js'\nconst m = await import('../../isolation/y.js')\n"
    assert.deepEqual(importsOf(f, text).map((p) => path.relative(REPO_ROOT, p)).sort(), ['isolation/tier.js', 'isolation/y.js', 'runtime/gateway/c.js', 'runtime/x.js'])
  })

  it('nothing under runtime/gateway, runtime/registry or runtime/async imports isolation/', () => {
    assert.deepEqual(offenders(['gateway', 'registry', 'async'], ISOLATION), [])
  })

  it('runtime/registry does not import runtime/pool', () => {
    assert.deepEqual(offenders(['registry'], path.join(RUNTIME, 'pool')), [])
  })

  it('the gateway does not import the tiers\' wiring (runtime/tiers.ts) or a pool', () => {
    const pool = path.join(RUNTIME, 'pool', 'pool.js')
    const tiers = path.join(RUNTIME, 'tiers.js')
    const bad = sourcesUnder(path.join(RUNTIME, 'gateway')).flatMap((f) => importsOf(f).filter((t) => t === pool || t === tiers).map((t) => `${path.relative(REPO_ROOT, f)} imports ${path.relative(REPO_ROOT, t)}`))
    assert.deepEqual(bad, [])
  })

  it('no tier imports runtime/ (a tier knows nothing of the gateway, the registry or the pool)', () => {
    const bad = sourcesUnder(ISOLATION).flatMap((f) => importsOf(f).filter((t) => t === RUNTIME || t.startsWith(RUNTIME + path.sep)).map((t) => `${path.relative(REPO_ROOT, f)} imports ${path.relative(REPO_ROOT, t)}`))
    assert.deepEqual(bad, [])
  })
})
