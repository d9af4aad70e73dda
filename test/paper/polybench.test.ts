// R6 (issue 15): the kernels' output line is parsed strictly, and the overhead is the ratio of medians.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { overhead, parseKernelLine } from '../../paper/experiments/r6-polybench.js'

test('a kernel result line gives its runs; anything else is an error', () => {
  assert.deepEqual(parseKernelLine('gemm n=64 checksum=3.743467e+05 us=41.4,41.1\n'), { name: 'gemm', n: 64, checksum: '3.743467e+05', us: [41.4, 41.1] })
  assert.throws(() => parseKernelLine('gemm n=64 us=1'), /not a kernel result/)
})

test('the overhead is wasm median over native median', () => {
  assert.equal(overhead([20, 20, 20, 1000], [10, 10, 10, 11]), 2)
})

test('R12\'s data-segment module is shaped as wasmtime\'s: 17 pages, one 440-byte segment', async () => {
  const { wats, DATA_SEGMENT_BYTES, scalingText } = await import('../../paper/experiments/r12-instantiate.js')
  const wat = wats()['data']!
  assert.match(wat, /\(memory \(export "memory"\) 17\)/)
  const segs = [...wat.matchAll(/\(data \(i32\.const 0\) "([^"]*)"\)/g)]
  assert.equal(segs.length, 1)
  assert.equal(segs[0]![1]!.length, DATA_SEGMENT_BYTES)
  assert.equal(DATA_SEGMENT_BYTES, 440)
  const t = (p50: number) => ({ key: 't', label: 't', system: 'primitive' as const, unit: 'count' as const, n: 3, p50 })
  assert.match(scalingText(t(100), t(106), t(100), t(190)).join(' '), /memory's allocation/)
  assert.match(scalingText(t(100), t(106), t(100), t(110)).join(' '), /not the memory's allocation/)
})

test('R10\'s primitive lines give samples, or the error that stopped the operation', async () => {
  const { parsePrimitiveLine, keyOf } = await import('../../paper/experiments/r10-primitives.js')
  assert.deepEqual(parsePrimitiveLine('unshare(NEWNET) us=499.55,430.84'), { op: 'unshare(NEWNET)', us: [499.55, 430.84] })
  assert.deepEqual(parsePrimitiveLine('cgroup join (reuse one made ahead) error=Permission denied'), { op: 'cgroup join (reuse one made ahead)', us: [], error: 'Permission denied' })
  assert.equal(keyOf('unshare(all six)'), 'prim:unshare-all-six')
})

test('R6\'s wasm runner prints what a module writes after its memory grew (node:wasi crashed there)', async () => {
  const { wat, wasiCommand } = await import('../helpers/wat.js')
  const { execFileSync } = await import('node:child_process')
  const fs = await import('node:fs')
  const os = await import('node:os')
  const path = await import('node:path')
  // write "ab\n", grow the memory by 2,000 pages (as a kernel's heap does), then write it again
  // from the new pages (node:wasi read them through the memory's old, smaller backing store)
  const high = 1000 * 65536
  const write = (at: number) => `(drop (call $fd_write (i32.const 1) (i32.const ${at}) (i32.const 1) (i32.const ${at + 8})))`
  const body = [
    '(i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 3))',
    write(0),
    '(drop (memory.grow (i32.const 2000)))',
    `(i32.store (i32.const ${high}) (i32.const ${high + 16})) (i32.store (i32.const ${high + 4}) (i32.const 3))`,
    `(i32.store8 (i32.const ${high + 16}) (i32.const 97)) (i32.store8 (i32.const ${high + 17}) (i32.const 98)) (i32.store8 (i32.const ${high + 18}) (i32.const 10))`,
    write(high),
  ].join(' ')
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kindling-r6-')), 'grow.wasm')
  fs.writeFileSync(file, await wat(wasiCommand(body, '(data (i32.const 16) "ab\\n")')))
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../../paper/experiments/wasi-main.ts'), file], { encoding: 'utf8' })
  assert.equal(out, 'ab\nab\n')
})
