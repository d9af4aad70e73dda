// The two guest-memory rules every kindling import shares: a (pointer, length) pair must lie inside
// the guest's memory, and a result too long for the guest's first buffer is handed out in pieces
// by a *_read import (kindling.result_read, kindling.http_response_read).

/** true when [ptr, ptr + len) lies inside the guest memory `bytes` views */
export function inBounds(bytes: Uint8Array, ptr: number, len: number): boolean {
  return ptr >= 0 && len >= 0 && ptr + len <= bytes.length
}

/**
 * Copies the bytes of `last` from `offset` on (at most `len`) to the guest at `ptr`; returns how
 * many, 0 when there is no memory or no result, or `badArguments` for a range outside memory.
 */
export function readRest(memory: WebAssembly.Memory | undefined, last: Uint8Array | undefined, ptr: number, offset: number, len: number, badArguments: number): number {
  if (!memory || !last) return 0
  const bytes = new Uint8Array(memory.buffer)
  if (!inBounds(bytes, ptr, len) || offset < 0) return badArguments
  const chunk = last.subarray(offset, offset + len)
  bytes.set(chunk, ptr)
  return chunk.length
}
