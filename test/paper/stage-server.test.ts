// R9's warm stages (functions/pipeline/stage-server.c): each stage built natively as a long-running
// HTTP server on a Unix socket; the image goes through the four of them over keep-alive
// connections, several times, and a bad request is a 500 that leaves the server serving.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { PIPELINE_STAGES } from '../../paper/experiments/containers.js'
import { buildStageServers, computeUs, postUnix, testImage } from '../../paper/experiments/r9-pipeline.js'
import { REPO_ROOT } from '../../runtime/index.js'
import { which } from '../../isolation/index.js'

test('the four stage servers run the pipeline over keep-alive connections', { skip: which('clang') || which('cc') ? undefined : 'no C compiler (clang)' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-stages-'))
  const children: ChildProcess[] = []
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const built = buildStageServers(REPO_ROOT, dir)
    assert.equal(built, true, String(built))
    for (const s of PIPELINE_STAGES) children.push(spawn(path.join(dir, `${s}-server`), [path.join(dir, `${s}.sock`)], { stdio: 'ignore' }))
    for (const s of PIPELINE_STAGES) {
      for (let i = 0; !fs.existsSync(path.join(dir, `${s}.sock`)); i++) {
        assert.ok(i < 200, `${s} server did not listen`)
        await new Promise((r) => setTimeout(r, 25))
      }
    }
    for (let run = 0; run < 3; run++) {
      let body = testImage()
      for (const s of PIPELINE_STAGES) body = await postUnix(agent, path.join(dir, `${s}.sock`), body)
      assert.ok(computeUs(body) > 0)
      assert.match(body.subarray(0, 200).toString('latin1'), /^PIPE1 w=256 h=192 .* thumb=1 t4=\d+\nP6\n32 24\n255\n/)
    }
    await assert.rejects(postUnix(agent, path.join(dir, 'extract.sock'), Buffer.from('not an image')), /500 stage failed/)
    const again = await postUnix(agent, path.join(dir, 'extract.sock'), testImage())
    assert.match(again.subarray(0, 40).toString('latin1'), /^PIPE1 w=256 h=192 /)
  } finally {
    agent.destroy()
    for (const c of children) c.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
