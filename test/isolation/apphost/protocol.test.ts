import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeFrame, encodeFrameParts, type Frame, FrameDecoder } from '../../../isolation/apphost/protocol.js'

describe('app host frames', () => {
  it('round-trips frames split at every byte and glued together', () => {
    const frames = [encodeFrame(4, 1, { a: 'é' }, Buffer.from([0, 1, 2])), encodeFrame(100, 2, undefined), encodeFrame(102, 0xfffffff0, { big: 'x'.repeat(5000) }, Buffer.alloc(70_000, 7))]
    const all = Buffer.concat(frames)
    for (const step of [1, 7, 13, all.length]) {
      const d = new FrameDecoder()
      const got: Frame[] = []
      for (let i = 0; i < all.length; i += step) d.push(all.subarray(i, i + step), (f) => got.push(f))
      assert.equal(got.length, 3)
      assert.deepEqual(got[0]!.meta, { a: 'é' })
      assert.deepEqual([...got[0]!.payload], [0, 1, 2])
      assert.equal(got[1]!.meta, undefined)
      assert.equal(got[2]!.id, 0xfffffff0)
      assert.equal(got[2]!.payload.length, 70_000)
    }
  })

  it('writes a body as its own part and reads a large frame from many chunks with one copy', () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 9)
    const [head, part] = encodeFrameParts(4, 5, { m: 1 }, body)
    assert.equal(part, body, 'the body is not copied into the frame')
    const all = Buffer.concat([head, part])
    assert.deepEqual(all, encodeFrame(4, 5, { m: 1 }, body))
    const d = new FrameDecoder()
    const got: Frame[] = []
    for (let i = 0; i < all.length; i += 65536) d.push(all.subarray(i, i + 65536), (f) => got.push(f))
    assert.equal(got.length, 1)
    assert.deepEqual(got[0]!.meta, { m: 1 })
    assert.ok(got[0]!.payload.equals(body))
    assert.equal(got[0]!.payload.buffer.byteLength, all.length, 'the payload is a view of the one frame buffer')
  })

  it('refuses a frame length that cannot be right', () => {
    const bad = Buffer.alloc(8)
    bad.writeUInt32LE(3, 0)
    assert.throws(() => new FrameDecoder().push(bad, () => {}), /bad frame length/)
  })
})
