// kindling's release and the git commit it runs from (read from .git without spawning git).
import fs from 'node:fs'
import path from 'node:path'

import { REPO_ROOT } from '../isolation/entry.js'

export { REPO_ROOT }

export function readVersion(): { release: string; sha: string } {
  let release = '0.0.0'
  let sha = 'unknown'
  try {
    release = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version
  } catch {}
  try {
    const head = fs.readFileSync(path.join(REPO_ROOT, '.git', 'HEAD'), 'utf8').trim()
    if (head.startsWith('ref: ')) {
      const ref = head.slice(5)
      const refFile = path.join(REPO_ROOT, '.git', ref)
      if (fs.existsSync(refFile)) sha = fs.readFileSync(refFile, 'utf8').trim()
      else {
        const packed = fs.readFileSync(path.join(REPO_ROOT, '.git', 'packed-refs'), 'utf8')
        sha = packed.split('\n').find((l) => l.endsWith(` ${ref}`))?.split(' ')[0] ?? sha
      }
    } else {
      sha = head
    }
  } catch {}
  return { release, sha }
}
