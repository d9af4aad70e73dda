// The cron example (functions/cron/stack.yml, functions/assemblyscript/cron-tick.ts) as a user runs
// it: `kindling deploy -f` against a real gateway process, with the schedule set to every second
// through the stack's ${CRON_SCHEDULE}; the job fires on its own and its count (kept in the KV store
// the stack grants) grows. Also: the KV counter and URL fetcher examples are there (their tests are
// test/isolation/wasm/kv-function.test.ts and test/runtime/ops/outbound.test.ts).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { runCli } from '../../helpers/cli.js'
import { exampleModule, tempDataDir } from '../../helpers/kindling.js'
import { startServerProcess } from '../../helpers/server-process.js'
import { REPO_ROOT } from '../../../runtime/version.js'

test('the cron example deploys from its stack.yml and fires every second', async () => {
  for (const f of ['cron-tick', 'kv-counter', 'fetch-url']) assert.ok(fs.existsSync(exampleModule(f)), f)
  const dataDir = tempDataDir()
  const srv = await startServerProcess(dataDir)
  try {
    const stack = path.join(REPO_ROOT, 'functions', 'cron', 'stack.yml')
    const r = runCli(['deploy', '-f', stack, '--gateway', srv.url, '--data-dir', dataDir], { env: { CRON_SCHEDULE: '* * * * * *' } })
    assert.equal(r.code, 0, r.err)
    const count = async () => {
      const res = await fetch(`${srv.url}/function/cron-tick`, { method: 'POST', body: 'count' })
      assert.equal(res.status, 200)
      return Number((await res.text()).trim())
    }
    // bounded: a tick a second, so two ticks well within 20 s even on a loaded machine
    let n = 0
    for (let i = 0; i < 200 && n < 2; i++) {
      await new Promise((res) => setTimeout(res, 100))
      n = await count()
    }
    assert.ok(n >= 2, `two ticks counted, got ${n}\n${srv.output().slice(-2000)}`)
  } finally {
    await srv.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
})
