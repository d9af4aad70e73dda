// A gateway killed with SIGKILL takes its containers with it (issue 18 item 16): its spawner sees
// the IPC channel close and kills every container it still holds (processes through their cgroups,
// crun state, cgroups, mounts, folders) without waiting for a restart on the same data dir.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { allHierarchies } from '../../../isolation/container/cgroups.js'
import { mountsUnder } from '../../../isolation/container/overlay.js'
import { which } from '../../../isolation/container/runtime.js'
import { startServerProcess } from '../../helpers/server-process.js'
import { containerSkipReason, eventually } from './helpers.js'

const skip = containerSkipReason() ?? false

function crunIds(prefix: string): { id: string; pid: number }[] {
  const bin = which('crun')
  if (!bin) return []
  // `crun list` fails when it reads the state of a container another test is creating at that
  // moment: ask again (a few times, 100 ms apart) rather than fail this test for it
  let text = ''
  for (let attempt = 1; ; attempt++) {
    try {
      text = execFileSync(bin, ['list', '--format', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
      break
    } catch (e) {
      if (attempt >= 10) throw e
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    }
  }
  const all = (text && text !== 'null' ? JSON.parse(text) : []) as { id: string; pid: number }[]
  return all.filter((c) => c.id.startsWith(prefix))
}

/** Container cgroups (children of the data dir's parent cgroup) in every hierarchy. */
function cgroupsLeft(marker: string): string[] {
  const out: string[] = []
  for (const mp of allHierarchies()) {
    const parent = path.join(mp, `kindling-${marker}`)
    try {
      for (const e of fs.readdirSync(parent, { withFileTypes: true })) if (e.isDirectory()) out.push(path.join(parent, e.name))
    } catch {
      // no such parent in this hierarchy
    }
  }
  return out
}

/** Processes whose cgroup names this data dir's marker. */
function processesOf(marker: string): number[] {
  const out: number[] = []
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      if (fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/kindling-${marker}/`)) out.push(Number(p))
    } catch {
      // gone
    }
  }
  return out
}

describe('gateway killed -9: its containers die with it', { skip, timeout: 120_000 }, () => {
  it('leaves no container process, crun state, cgroup or mount behind, without a restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-gwdeath-'))
    const server = await startServerProcess(dataDir, { KINDLING_CONTAINER_WRITABLE_LAYER_MIB: '8' })
    const stateDir = path.join(dataDir, 'tiers', 'container')
    const marker = fs.readFileSync(path.join(stateDir, 'marker'), 'utf8').trim()
    const prefix = `kindling-${marker}-`
    try {
      const auth = `Basic ${Buffer.from(`admin:${fs.readFileSync(path.join(dataDir, 'secrets', 'basic-auth-password'), 'utf8')}`).toString('base64')}`
      for (const [service, readOnlyRootFilesystem] of [['ahead', undefined], ['writable', false]] as const) {
        const dep = await fetch(`${server.url}/system/functions`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ service, image: 'functions/alpine:latest', envProcess: 'cat', readOnlyRootFilesystem, labels: { 'com.openfaas.scale.min': '2' } }),
        })
        assert.equal(dep.status, 202, await dep.text())
      }
      // item 13: the status says what runs (the rootfs is read-only unless asked otherwise)
      for (const [service, ro] of [['ahead', true], ['writable', false]] as const) {
        const st = (await (await fetch(`${server.url}/system/function/${service}`, { headers: { authorization: auth } })).json()) as { readOnlyRootFilesystem: boolean }
        assert.equal(st.readOnlyRootFilesystem, ro, `${service} readOnlyRootFilesystem`)
      }
      assert.ok(await eventually(() => crunIds(prefix).length >= 4, 60_000), 'containers created ahead')
      assert.ok(processesOf(marker).length >= 4, 'their processes run')
      assert.ok(mountsUnder(path.join(stateDir, 'sandboxes')).length >= 2, 'the writable ones have mounts')
      // each sandbox's tmpfs has the configured size (KINDLING_CONTAINER_WRITABLE_LAYER_MIB)
      const tmpfs = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`${stateDir}/sandboxes/kindling-`) && l.includes(' - tmpfs '))
      assert.ok(tmpfs.length >= 4 && tmpfs.every((l) => /size=8192k/.test(l)), tmpfs.join('\n'))

      await server.kill9()
      const gone = await eventually(
        () => crunIds(prefix).length === 0 && processesOf(marker).length === 0 && cgroupsLeft(marker).length === 0 && mountsUnder(path.join(stateDir, 'sandboxes')).length === 0,
        15_000,
      )
      assert.ok(gone, `left: ${JSON.stringify({ crun: crunIds(prefix), procs: processesOf(marker), cgroups: cgroupsLeft(marker), mounts: mountsUnder(stateDir) })}`)
      for (const mp of allHierarchies()) assert.ok(!fs.existsSync(path.join(mp, `kindling-${marker}`)), `${mp}/kindling-${marker} removed`)
      const sandboxes = fs.readdirSync(path.join(stateDir, 'sandboxes')).filter((n) => n.startsWith('kindling-'))
      assert.deepEqual(sandboxes, [], 'sandbox folders removed')
      assert.deepEqual(mountsUnder(dataDir), [], 'the shared shim tmpfs is gone too')
    } finally {
      await server.kill9()
      // the second line, in case the first failed: a tier start on the data dir sweeps it
      for (const c of crunIds(prefix)) spawnSync(which('crun')!, ['delete', '-f', c.id])
      for (const m of mountsUnder(dataDir)) spawnSync('umount', ['-l', m])
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
