// R7's fork server (issue 15, correction 6): built from functions/forkserver with clang, it forks
// a child per call and every call is answered by a different process; without it R7 concludes
// nothing about SAND's fork rung.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { which } from '../../isolation/index.js'
import { startForkServer } from '../../paper/experiments/mechanisms.js'
import { forkLine } from '../../paper/experiments/r7-ladder.js'

test('the fork server answers each call from a new child', { skip: which('clang') || which('cc') ? false : 'no C compiler (clang) here' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-forkserver-'))
  const f = await startForkServer(path.resolve(import.meta.dirname, '../..'), dir, 1)
  try {
    for (let i = 0; i < 3; i++) assert.ok((await f.call()) > 0)
  } finally {
    f.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('without the fork server, R7 says it concludes nothing about SAND\'s fork rung', () => {
  assert.match(forkLine(undefined, undefined, undefined), /nothing is concluded/)
  const m = (p50: number) => ({ key: 'k', label: 'k', system: 'host' as const, unit: 'ms' as const, n: 10, p50 })
  assert.match(forkLine(m(1), undefined, m(20)), /20\.0x the fork server's time/)
})
