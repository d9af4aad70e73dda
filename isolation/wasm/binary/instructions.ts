// Walks WebAssembly instruction sequences: copies them while shifting function indices and
// inserting code at the top of every loop, and records which instructions change instance state
// that a memory snapshot cannot restore (tables, dropped segments).
import { type Reader, type Writer, WasmFormatError } from './bytes.js'

export interface ExprFacts {
  /** table.set / table.grow / table.fill / table.copy / table.init / elem.drop */
  mutatesTables: boolean
  /** data.drop (passive segments dropped at run time) */
  dropsDataSegments: boolean
  /** loop instructions seen */
  loops: number
}

export function newFacts(): ExprFacts {
  return { mutatesTables: false, dropsDataSegments: false, loops: 0 }
}

export interface ExprRewrite {
  /** function indices at or above this value are shifted by funcShift */
  shiftFrom: number
  funcShift: number
  /** emits instructions right after each `loop blocktype` */
  onLoop?: (w: Writer) => void
}

const enum Special {
  None,
  FuncIndex, // opcode followed by one function index (call, return_call, ref.func)
  Loop,
}

function skipBlockType(r: Reader): void {
  const b = r.peek()
  if (b === 0x40 || (b >= 0x7b && b <= 0x7f) || b === 0x70 || b === 0x6f || (b >= 0x69 && b <= 0x6e) || (b >= 0x71 && b <= 0x74)) {
    r.byte()
    return
  }
  if (b === 0x63 || b === 0x64) {
    r.byte()
    r.s33()
    return
  }
  r.s33() // type index
}

function skipMemArg(r: Reader): void {
  const align = r.u32()
  if (align & 0x40) r.u32() // multi-memory: memory index follows
  r.skipLeb() // offset (u64 for memory64)
}

function skipValTypeVec(r: Reader): void {
  const n = r.u32()
  for (let i = 0; i < n; i++) {
    const t = r.byte()
    if (t === 0x63 || t === 0x64) r.s33()
  }
}

/** Reads one opcode and its immediates. Returns which rewrite, if any, applies to it. */
function readInstruction(r: Reader, facts: ExprFacts): Special {
  const op = r.byte()
  if (op <= 0x01) return Special.None
  if (op >= 0x45 && op <= 0xc4) return Special.None // numeric, no immediates
  if (op >= 0x28 && op <= 0x3e) {
    skipMemArg(r)
    return Special.None
  }
  switch (op) {
    case 0x02: case 0x04: case 0x06: // block, if, try
      skipBlockType(r)
      return Special.None
    case 0x03:
      skipBlockType(r)
      facts.loops++
      return Special.Loop
    case 0x05: case 0x0b: case 0x0f: case 0x19: case 0x1a: case 0x1b: case 0x0a: case 0xd1: case 0xd3: case 0xd5:
      return Special.None // else, end, return, catch_all, drop, select, throw_ref, ref.is_null, ref.as_non_null, ref.eq
    case 0x07: case 0x08: case 0x09: case 0x18: // catch, throw, rethrow, delegate
    case 0x0c: case 0x0d: case 0xd4: case 0xd6: // br, br_if, br_on_null, br_on_non_null
    case 0x14: case 0x15: // call_ref, return_call_ref
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: // locals and globals
    case 0x25: // table.get
    case 0x3f: case 0x40: // memory.size, memory.grow (memory index)
      r.u32()
      return Special.None
    case 0x26: // table.set
      r.u32()
      facts.mutatesTables = true
      return Special.None
    case 0x0e: { // br_table
      const n = r.u32()
      for (let i = 0; i <= n; i++) r.u32()
      return Special.None
    }
    case 0x10: case 0x12: // call, return_call
      r.u32()
      return Special.FuncIndex
    case 0xd2: // ref.func
      r.u32()
      return Special.FuncIndex
    case 0x11: case 0x13: // call_indirect, return_call_indirect: type, table
      r.u32()
      r.u32()
      return Special.None
    case 0x1c: // select with types
      skipValTypeVec(r)
      return Special.None
    case 0x1f: { // try_table
      skipBlockType(r)
      const n = r.u32()
      for (let i = 0; i < n; i++) {
        const kind = r.byte()
        if (kind === 0 || kind === 1) r.u32()
        r.u32()
      }
      return Special.None
    }
    case 0x41: case 0x42:
      r.skipLeb()
      return Special.None
    case 0x43:
      r.skip(4)
      return Special.None
    case 0x44:
      r.skip(8)
      return Special.None
    case 0xd0: // ref.null heaptype
      r.s33()
      return Special.None
    case 0xfc:
      readMiscOp(r, facts)
      return Special.None
    case 0xfd:
      readSimdOp(r)
      return Special.None
    case 0xfe:
      readAtomicOp(r)
      return Special.None
    case 0xfb:
      throw new WasmFormatError('GC instructions are not supported', r.pos - 1)
    default:
      throw new WasmFormatError(`unknown opcode 0x${op.toString(16)}`, r.pos - 1)
  }
}

function readMiscOp(r: Reader, facts: ExprFacts): void {
  const sub = r.u32()
  if (sub <= 7) return // saturating truncations
  switch (sub) {
    case 8: // memory.init data mem
      r.u32()
      r.u32()
      return
    case 9: // data.drop
      r.u32()
      facts.dropsDataSegments = true
      return
    case 10: // memory.copy
      r.u32()
      r.u32()
      return
    case 11: // memory.fill
      r.u32()
      return
    case 12: case 14: // table.init, table.copy
      r.u32()
      r.u32()
      facts.mutatesTables = true
      return
    case 13: case 15: case 17: // elem.drop, table.grow, table.fill
      r.u32()
      facts.mutatesTables = true
      return
    case 16: // table.size
      r.u32()
      return
    default:
      throw new WasmFormatError(`unknown 0xfc opcode ${sub}`, r.pos)
  }
}

function readSimdOp(r: Reader): void {
  const sub = r.u32()
  if (sub <= 11 || sub === 92 || sub === 93) {
    skipMemArg(r)
  } else if (sub === 12 || sub === 13) {
    r.skip(16)
  } else if (sub >= 21 && sub <= 34) {
    r.byte() // lane index
  } else if (sub >= 84 && sub <= 91) {
    skipMemArg(r)
    r.byte()
  }
  // every other SIMD op (including relaxed SIMD) has no immediates
}

function readAtomicOp(r: Reader): void {
  const sub = r.u32()
  if (sub === 3) {
    r.byte() // atomic.fence
    return
  }
  if (sub <= 2 || (sub >= 0x10 && sub <= 0x4e)) {
    skipMemArg(r)
    return
  }
  throw new WasmFormatError(`unknown 0xfe opcode ${sub}`, r.pos)
}

/**
 * Copies instructions from r (up to byte `end`) into w, applying the rewrite. For a function body
 * `end` is the end of the body; the body's final `end` opcode is copied like any other.
 */
export function copyExpr(r: Reader, end: number, w: Writer, rw: ExprRewrite, facts: ExprFacts): void {
  let copyFrom = r.pos
  while (r.pos < end) {
    const start = r.pos
    const special = readInstruction(r, facts)
    if (special === Special.None) continue
    if (special === Special.FuncIndex) {
      if (rw.funcShift === 0) continue
      // re-read the index to rewrite it
      w.bytes(r.buf.subarray(copyFrom, start))
      const op = r.buf[start]!
      const idxReader = r.buf.subarray(start + 1, r.pos)
      const idx = decodeU32(idxReader)
      w.byte(op).u32(idx >= rw.shiftFrom ? idx + rw.funcShift : idx)
      copyFrom = r.pos
      continue
    }
    if (special === Special.Loop && rw.onLoop) {
      w.bytes(r.buf.subarray(copyFrom, r.pos))
      rw.onLoop(w)
      copyFrom = r.pos
    }
  }
  if (r.pos !== end) throw new WasmFormatError('instruction runs past the end of its body', r.pos)
  w.bytes(r.buf.subarray(copyFrom, end))
}

/** Copies a constant expression (through its `end`), shifting ref.func indices. */
export function copyConstExpr(r: Reader, w: Writer, rw: ExprRewrite): void {
  const facts = newFacts()
  let copyFrom = r.pos
  for (;;) {
    const start = r.pos
    const op = r.peek()
    const special = readInstruction(r, facts)
    if (special === Special.FuncIndex && rw.funcShift !== 0) {
      w.bytes(r.buf.subarray(copyFrom, start))
      const idx = decodeU32(r.buf.subarray(start + 1, r.pos))
      w.byte(op).u32(idx >= rw.shiftFrom ? idx + rw.funcShift : idx)
      copyFrom = r.pos
    }
    if (op === 0x0b) break
  }
  w.bytes(r.buf.subarray(copyFrom, r.pos))
}

function decodeU32(b: Uint8Array): number {
  let result = 0
  let shift = 0
  for (const byte of b) {
    result |= (byte & 0x7f) << shift
    if ((byte & 0x80) === 0) break
    shift += 7
  }
  return result >>> 0
}
