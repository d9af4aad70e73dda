import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { allHierarchies } from '../../isolation/container/cgroups.js'
import { mountsUnder } from '../../isolation/container/overlay.js'
import { performLastRites } from '../../isolation/spawner/last-rites.js'
import { Spawner } from '../../isolation/spawner/spawner.js'

describe('spawner: processes started off the gateway thread', () => {
  const spawner = new Spawner()
  after(() => spawner.close())

  it('runs a command and collects its output and exit status', async () => {
    const r = await spawner.run('sh', ['-c', 'echo out; echo err >&2; exit 3'])
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n'])
    assert.equal((await spawner.run('cat', [], { input: 'through stdin' })).stdout, 'through stdin')
  })

  it('relays extra output pipes and a FIFO as stdin, as crun create gets them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-spawner-'))
    const fifo = path.join(dir, 'in')
    execFileSync('mkfifo', [fifo])
    const keep = fs.openSync(fifo, fs.constants.O_RDWR)
    const writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
    const child = spawner.spawn('sh', ['-c', 'cat; echo status >&3'], { stdin: { fifo }, outputs: 3 })
    await new Promise((r) => child.once('spawn', r))
    fs.closeSync(keep)
    fs.writeSync(writer, 'body')
    fs.closeSync(writer)
    let out = ''
    let status = ''
    child.stdout!.on('data', (d: Buffer) => (out += d))
    child.stdio[3]!.on('data', (d: Buffer) => (status += d))
    const code = await new Promise((r) => child.on('close', r))
    assert.deepEqual([code, out, status], [0, 'body', 'status\n'])
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('kills a child on request and reports a failed start as an error and an exit', async () => {
    const child = spawner.spawn('sleep', ['30'], { stdin: 'ignore', outputs: 1 })
    await new Promise((r) => child.once('spawn', r))
    child.kill('SIGKILL')
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c: number | null, s: string | null) => r([c, s])))
    assert.deepEqual([code, signal], [null, 'SIGKILL'])
    const missing = await spawner.run('/no/such/program', [])
    assert.notEqual(missing.code, 0)
    assert.match(missing.stderr, /ENOENT/)
  })
})

describe('spawner last rites: what it undoes when the gateway dies', { skip: process.getuid?.() === 0 && process.platform === 'linux' ? false : 'needs root on Linux' }, () => {
  it('kills the processes of the cgroups, detaches the mounts, removes the folders and the cgroups', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-rites-'))
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-rites-sock-'))
    fs.mkdirSync(path.join(dir, 'fs'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'kindling', path.join(dir, 'fs')])
    const parent = `kindling-rites-${process.pid}`
    const cgroups = allHierarchies()
      .filter((mp) => /freezer|pids|unified/.test(mp))
      .map((mp) => path.join(mp, parent, 'c'))
    for (const c of cgroups) fs.mkdirSync(c, { recursive: true })
    const victim = spawn('sleep', ['60'], { stdio: 'ignore' })
    const died = new Promise((r) => victim.on('exit', (_c, sig) => r(sig)))
    await new Promise((r) => victim.once('spawn', r))
    for (const c of cgroups) {
      try {
        fs.writeFileSync(path.join(c, 'cgroup.procs'), String(victim.pid))
      } catch {
        // a v2 hierarchy with v1 controllers elsewhere may refuse (hybrid hosts): the others suffice
      }
    }
    try {
      performLastRites({ cgroups, dir, alsoRemove: [other] })
      assert.equal(await died, 'SIGKILL')
      assert.deepEqual(mountsUnder(dir), [])
      assert.ok(!fs.existsSync(dir) && !fs.existsSync(other), 'folders removed')
      for (const c of cgroups) assert.ok(!fs.existsSync(c), `${c} removed`)
    } finally {
      victim.kill('SIGKILL')
      for (const m of mountsUnder(dir)) execFileSync('umount', ['-l', m])
      for (const d of [...cgroups, ...cgroups.map((c) => path.dirname(c))]) {
        try {
          fs.rmdirSync(d)
        } catch {
          // removed by the rites
        }
      }
    }
  })
})
