// One helper for module entry points (issue 11 item 6): .ts with tsx from source, .js when built.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { runningFromSource, siblingModule } from '../../isolation/entry.js'
import { appHostEntry } from '../../isolation/apphost/host-process.js'
import { REPO_ROOT } from '../../runtime/version.js'

describe('module entry points', () => {
  it('resolves a sibling in the caller\'s form: source with tsx, built without a loader', () => {
    const src = 'file:///repo/isolation/thread/tier.ts'
    const built = 'file:///repo/dist/isolation/thread/tier.js'
    assert.equal(runningFromSource(src), true)
    assert.equal(runningFromSource(built), false)
    assert.deepEqual(siblingModule(src, 'worker'), { url: 'file:///repo/isolation/thread/worker.ts', path: '/repo/isolation/thread/worker.ts', execArgv: ['--import', 'tsx'] })
    assert.deepEqual(siblingModule(built, '../apphost/host-main'), { url: 'file:///repo/dist/isolation/apphost/host-main.js', path: '/repo/dist/isolation/apphost/host-main.js', execArgv: [] })
  })

  it('finds the app host program from source', () => {
    const e = appHostEntry()
    assert.equal(e.path, path.join(REPO_ROOT, 'isolation', 'apphost', 'host-main.ts'))
    assert.ok(fs.existsSync(e.path))
  })

  it('is the only place that tells .ts from .js', () => {
    const found: string[] = []
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.name.endsWith('.ts') && p !== path.join(REPO_ROOT, 'isolation', 'entry.ts')) {
          const text = fs.readFileSync(p, 'utf8')
          if (/import\.meta\.url[^\n]*(endsWith\('\.ts'\)|extname)|extname\(new URL\(import\.meta\.url/.test(text)) found.push(path.relative(REPO_ROOT, p))
        }
      }
    }
    for (const d of ['runtime', 'isolation', 'bench', 'paper']) walk(path.join(REPO_ROOT, d))
    assert.deepEqual(found, [])
  })
})
