import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
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
