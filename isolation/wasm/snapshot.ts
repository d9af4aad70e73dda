// The state of an instance right after instantiation, taken once per function version and shared
// by all its sandboxes (every instance of a module starts from the same memory and globals).
// Restoring it is how a sandbox gets fresh state between calls without a new instance.
//
// Restore rewrites only the 4 KiB pages that differ from the snapshot: pages a call never touched
// are only read (the kernel's zero page backs them), so they stay out of the sandbox's RSS, and the
// work is a memcmp over memory instead of a full copy.

const PAGE = 4096

export class MemorySnapshot {
  private constructor(
    /** memory bytes right after instantiation */
    private readonly bytes: Buffer,
    /** values of the exported mutable globals, in plan order */
    private readonly globals: (number | bigint)[],
  ) {}

  static take(memory: WebAssembly.Memory, exports: WebAssembly.Exports, globalNames: readonly string[]): MemorySnapshot {
    return new MemorySnapshot(
      Buffer.from(new Uint8Array(memory.buffer).slice().buffer),
      globalNames.map((g) => (exports[g] as WebAssembly.Global).value as number | bigint),
    )
  }

  get size(): number {
    return this.bytes.length
  }

  /** Puts an instance back to the snapshot; false when it cannot (its memory grew). */
  restore(memory: WebAssembly.Memory, exports: WebAssembly.Exports, globalNames: readonly string[]): boolean {
    if (memory.buffer.byteLength !== this.bytes.length) return false
    const current = Buffer.from(memory.buffer)
    const snap = this.bytes
    for (let o = 0; o < snap.length; o += PAGE) {
      const end = Math.min(o + PAGE, snap.length)
      if (current.compare(snap, o, end, o, end) !== 0) snap.copy(current, o, o, end)
    }
    globalNames.forEach((g, i) => {
      ;(exports[g] as WebAssembly.Global).value = this.globals[i]
    })
    return true
  }
}
