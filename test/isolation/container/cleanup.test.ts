// No orphans: after kill -9 of the process running the tier and of its spawner (which would otherwise
// remove the containers itself: gateway-death.test.ts), the next start on the same data dir removes
// every container, cgroup, mount, forwarder and folder the dead one made, and nothing else.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { mountsUnder } from '../../../isolation/container/overlay.js'
import { buildSpec } from '../../../isolation/container/spec.js'
import { containerSkipReason, eventually, makeHarness, REPO } from './helpers.js'

const skip = containerSkipReason() ?? false

function forwarders(marker: string): number[] {
  const out: number[] = []
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8')
      if (argv.includes('forwarder.mjs') && argv.includes(`kindling-${marker}-`)) out.push(Number(p))
    } catch {
      // gone
    }
  }
  return out
}

describe('cleanup after kill -9', { skip, timeout: 120_000 }, () => {
  it('removes what a killed run left behind and leaves foreign containers alone', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-orphans-'))
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/isolation/container/fixtures/orphan-maker.ts'), dataDir], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true, // its own process group, so one kill -9 takes the spawner too
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const ok = await eventually(() => out.includes('\n'), 60_000)
    assert.ok(ok, 'the child set up its sandboxes')
    const made = JSON.parse(out) as { marker: string; ids: string[]; cgroups: string[] }
    const stateDir = path.join(dataDir, 'tiers', 'container')

    // a foreign container, with a name like ours but another data dir's marker
    const h0 = makeHarness({}, fs.mkdtempSync(path.join(os.tmpdir(), 'kd-foreign-')))
    const image = (await h0.tier.images.resolve('functions/alpine:latest'))!
    const foreignId = `kindling-${made.marker === '00000000' ? '11111111' : '00000000'}-foreign${process.pid}`
    const bundle = path.join(h0.dataDir, 'foreign')
    fs.mkdirSync(bundle)
    const spec = buildSpec({ rootfs: image.rootfs, readonlyRoot: true, args: ['/bin/sleep', '60'], env: ['PATH=/bin'], cwd: '/', hostname: 'f', cgroupsPath: `/kd-foreign/${foreignId}`, memoryBytes: 0, cpuCores: 0, pidsLimit: 16, tmpfsBytes: 1 << 20, binds: [] })
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec))
    const rt = h0.tier.runtime!
    await new Promise<void>((resolve) => spawn(rt.bin, ['run', '-d', '--bundle', bundle, foreignId], { stdio: 'ignore' }).on('close', () => resolve()))

    try {
      process.kill(-child.pid!, 'SIGKILL')
      await new Promise((r) => child.on('close', r))
      // everything is still there: nobody cleaned up
      const before = (await rt.list()).map((c) => c.id)
      for (const id of made.ids) assert.ok(before.includes(id), `${id} orphaned`)
      assert.ok(mountsUnder(path.join(stateDir, 'sandboxes')).length >= 1, 'overlay mount orphaned')
      assert.equal(fs.readFileSync(`/sys/fs/cgroup/freezer${made.cgroups[2]}/freezer.state`, 'utf8').trim(), 'FROZEN')

      // the restart: a new tier on the same data dir
      const h = makeHarness({}, dataDir)
      await h.tier.whenReady()
      assert.equal(h.tier.naming.marker, made.marker, 'the marker belongs to the data dir')
      const after = (await rt.list()).map((c) => c.id)
      for (const id of made.ids) assert.ok(!after.includes(id), `${id} removed`)
      assert.ok(after.includes(foreignId), 'the foreign container is untouched')
      for (const cg of made.cgroups) {
        for (const ctl of ['memory', 'pids', 'freezer', 'cpu']) assert.ok(!fs.existsSync(`/sys/fs/cgroup/${ctl}${cg}`), `${ctl}${cg} removed`)
      }
      assert.ok(!fs.existsSync(`/sys/fs/cgroup/memory/kindling-${made.marker}`), 'the data dir cgroup parent is gone')
      // only the new run's shared shim (tier.ts shareShim) is mounted there
      assert.deepEqual(mountsUnder(path.join(stateDir, 'sandboxes')), [path.join(stateDir, 'sandboxes', '.shim')])
      assert.ok(await eventually(() => forwarders(made.marker).length === 0, 3000), 'forwarders are gone')
      assert.deepEqual(fs.readdirSync(path.join(stateDir, 'sandboxes')), ['.shim'])
      assert.equal(h.tier.lastCleanup!.containers.length, made.ids.length)
      await h.close()
    } finally {
      child.kill('SIGKILL')
      await rt.delete(foreignId)
      for (const ctl of fs.readdirSync('/sys/fs/cgroup')) {
        try {
          fs.rmdirSync(path.join('/sys/fs/cgroup', ctl, 'kd-foreign'))
        } catch {
          // not there
        }
      }
      await h0.close()
    }
  })
})
