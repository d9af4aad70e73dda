// The child of the out-of-process wasm floor (child-floor.ts): on fd 3 (a socketpair) it reads
// length-prefixed requests and answers each with a bare instantiate+call of the original module
// (bare-wasm.ts) on the request's body, or, in `echo` mode, with the body itself (the hop alone).
//   node child-floor-main.js <wasi|as|echo> [module.wasm]
import fs from 'node:fs'
import net from 'node:net'
import { bareAssemblyScript, bareWasi } from './bare-wasm.js'

const [mode, file] = process.argv.slice(2) as [string, string | undefined]
const module = file ? new WebAssembly.Module(fs.readFileSync(file)) : undefined
const answer = (body: Buffer): Uint8Array => (mode === 'echo' ? body : (mode === 'as' ? bareAssemblyScript : bareWasi)(module!, body)())
const socket = new net.Socket({ fd: 3, readable: true, writable: true })
socket.setNoDelay?.(true)
let buf: Buffer = Buffer.alloc(0)
socket.on('data', (chunk: Buffer) => {
  buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
  while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
    const len = buf.readUInt32LE(0)
    const out = answer(buf.subarray(4, 4 + len))
    buf = buf.subarray(4 + len)
    const head = Buffer.allocUnsafe(4)
    head.writeUInt32LE(out.length, 0)
    socket.write(Buffer.concat([head, out]))
  }
})
socket.on('close', () => process.exit(0))
socket.on('error', () => process.exit(0))
