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
