// R3's capacity ramp (issue 15, correction 4): why a ramp stops (the machine's limits before the
// run's own), a real ramp that a failing start stops, the cgroup of a process, and a negative
// MemAvailable drop shown as a failure instead of dropped.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cgroupMemory, memoryCgroupOf, ramp, type RampLimits, stopReason } from '../../paper/experiments/capacity.js'
import { availCell, kbText } from '../../paper/experiments/r2-memory.js'

const GiB = 2 ** 30
const limits: RampLimits = { memFloorBytes: 4 * GiB, taskHeadroom: 100, timeLimitMs: 1000 }
const probe = { count: 10, elapsedMs: 10, memAvailableBytes: 10 * GiB, tasks: 500, taskLimit: 32768 }

test('a ramp stops at the machine\'s limits first, then at the run\'s own, and says which', () => {
  assert.equal(stopReason(probe, limits), undefined)
  assert.equal(stopReason({ ...probe, memAvailableBytes: 3 * GiB }, limits), 'memory')
  assert.equal(stopReason({ ...probe, tasks: 32700 }, limits), 'tasks')
  assert.equal(stopReason({ ...probe, elapsedMs: 1000 }, limits), 'time')
  assert.equal(stopReason({ ...probe, count: 3 }, { ...limits, budget: 3 }), 'budget')
  // memory short and time up at once: the machine's limit is the answer
  assert.equal(stopReason({ ...probe, memAvailableBytes: 1, elapsedMs: 5000 }, limits), 'memory')
})

test('a failing start stops the ramp with its message; a budget stops it as a budget', async () => {
  const big = () => ({ memAvailableBytes: 10 * GiB, tasks: 1, taskLimit: 1e6 })
  const failing = await ramp(async (i) => {
    if (i === 4) throw new Error('crun: cannot allocate memory')
    return i
  }, { ...limits, timeLimitMs: 60_000 }, big)
  assert.equal(failing.items.length, 4)
  assert.equal(failing.stopped, 'error')
  assert.match(failing.detail, /cannot allocate memory/)
  const budget = await ramp(async (i) => i, { ...limits, budget: 7, timeLimitMs: 60_000 }, big)
  assert.equal(budget.items.length, 7)
  assert.match(budget.detail, /budget of 7 \(not a limit of the machine\)/)
  const memory = await ramp(async (i) => i, limits, () => ({ memAvailableBytes: GiB, tasks: 1, taskLimit: 1e6 }))
  assert.equal(memory.stopped, 'memory')
  assert.equal(memory.items.length, 0)
})

test('this process\'s memory cgroup is found and read', () => {
  const rel = memoryCgroupOf(process.pid)
  assert.ok(rel?.startsWith('/'), `cgroup ${rel}`)
  const m = cgroupMemory(rel!)
  if (m) assert.ok(m.totalBytes > 0 && m.kernelBytes >= 0)
})

test('a negative MemAvailable drop is shown as a failed measurement with its value', () => {
  assert.match(availCell({ key: 'a', label: 'a', system: 'kindling', unit: 'MiB', n: 50, p50: -0.128 }), /^FAILED: MemAvailable rose by 134 KB per sandbox over 50/)
  assert.equal(availCell({ key: 'a', label: 'a', system: 'kindling', unit: 'KiB', n: 50, p50: 500 }), '512 KB')
  assert.equal(kbText(2000), '2.05 MB')
})

test('a container\'s footprint is its processes\' PSS plus its cgroup\'s kernel memory', async () => {
  const { containerFootprint } = await import('../../paper/experiments/r2-memory.js')
  const row = (key: string, p50: number) => ({ key, label: key, system: 'container' as const, unit: 'KiB' as const, n: 3, p50 })
  assert.equal(containerFootprint([row('crun:pss', 490), row('cap:crun:kernel', 139), row('cap:crun:per', 190)]), 629)
  assert.equal(containerFootprint([row('cap:crun:per', 190)]), 190)
})
