// The deploy-time rewrite of a core module. It makes three things possible that V8 alone cannot:
//
// 1. Preemption. A synchronous wasm call blocks its thread, so no timer on that thread can stop a
//    runaway loop. The rewrite counts loop iterations at the top of every loop, in an extra local
//    of each function, and function entries in an extra global (code without a loop runs long
//    only by calling: recursion, tail calls with return_call); every `fuel` counts the module
//    calls the imported `kindling.interrupt`, which checks the deadline (and a cancel flag another
//    thread can set) and throws past it, unwinding the call. This is wasmtime's epoch/fuel
//    interruption (checked at loop headers and function entries) done in bytecode. Recursion
//    depth is V8's to bound: past its stack limit the call traps with a RangeError.
// 2. Memory limits. The maximum of memory 0 is clamped to limits.memory, so memory.grow fails there.
// 3. Snapshot reset. Internal mutable globals and the memory are exported, so the host can restore
//    an instance to its just-instantiated state instead of paying for a new instance per call
//    (Faasm's Proto-Faaslets, wasmtime's pooling allocator).
import { Reader, Writer, WasmFormatError } from './bytes.js'
import { copyConstExpr, copyExpr, type ExprRewrite, newFacts } from './instructions.js'
import {
  CORE_VERSION, EXTERNAL_KIND, MAGIC, SECTION, SECTION_ORDER, parseModule, readLimits, readValType,
  type Limits, type Section,
} from './module.js'

/** Bumped whenever instrument()'s output changes, so cached instrumented modules are rebuilt. */
export const INSTRUMENT_VERSION = 3

export const INTERRUPT_IMPORT = { module: 'kindling', field: 'interrupt' } as const
export const STATE_GLOBAL_PREFIX = '__kindling_global_'
export const MEMORY_EXPORT = '__kindling_memory'
const WASM_PAGE = 65536

export interface InstrumentOptions {
  /** add loop interruption checks */
  interrupt: boolean
  /** fuel (loop iterations, or function entries) between two calls to the interrupt import */
  fuel: number
  /** also check at function entries (default); false leaves loop checks only, for benchmarks */
  entryChecks?: boolean
  /** clamp the maximum of memory 0 to this many pages */
  memoryMaxPages?: number
}

export interface InstrumentResult {
  bytes: Uint8Array<ArrayBuffer>
  interruptible: boolean
  loops: number
  /** exported mutable globals to save and restore: export name per global */
  stateGlobals: string[]
  /** name under which memory 0 is exported (existing name or MEMORY_EXPORT), if the module has one */
  memoryExport?: string
  /** limits of an imported memory 0 (the host must create it) */
  importedMemory?: { module: string; field: string; limits: Limits }
  /** true when restoring memory + globals returns the instance to its initial state */
  snapshotSafe: boolean
  notSnapshotSafeBecause: string[]
  initialPages: number
}

export function memoryPagesFor(bytes: number): number {
  return Math.max(1, Math.floor(bytes / WASM_PAGE))
}

export function instrument(input: Uint8Array, opts: InstrumentOptions): InstrumentResult {
  const m = parseModule(input)
  const reasons: string[] = []
  const rw: ExprRewrite = { shiftFrom: m.funcImportCount, funcShift: opts.interrupt ? 1 : 0 }
  const interruptFunc = m.funcImportCount // the new import is the last function import
  // each function counts its loop iterations in a local of its own (an extra i32 local): a local
  // stays in a register, where a global costs a load and a store per iteration
  let fuelLocal = 0
  // offsets (from the start of each function body) of the inserted `if`s, for the branch hints
  let hintOffsets: number[] = []
  const hints: { func: number; offsets: number[] }[] = []
  if (opts.interrupt) {
    rw.onLoop = (w) => {
      w.byte(0x20).u32(fuelLocal).byte(0x41).s32(1).byte(0x6a).byte(0x22).u32(fuelLocal) // ++count
      w.byte(0x41).s32(opts.fuel).byte(0x4f) // count >= fuel (unsigned)
      hintOffsets.push(w.length)
      w.byte(0x04).byte(0x40) // if
      w.byte(0x10).u32(interruptFunc).byte(0x1a) // call interrupt; drop
      w.byte(0x41).s32(0).byte(0x21).u32(fuelLocal) // count = 0
      w.byte(0x0b) // end
    }
  }

  const memCount = m.memoryImportCount + m.memories.length
  if (memCount > 1) throw new WasmFormatError('modules with more than one memory are not supported')
  const memImport = m.imports.find((i) => i.kind === EXTERNAL_KIND.memory)
  const mem0 = memImport?.limits ?? m.memories[0]
  if (mem0?.shared) reasons.push('its memory is shared')
  if (mem0?.is64) throw new WasmFormatError('64-bit memories are not supported')
  if (mem0 && opts.memoryMaxPages !== undefined && mem0.min > opts.memoryMaxPages) {
    throw new MemoryTooSmallError(mem0.min, opts.memoryMaxPages)
  }
  if (m.imports.some((i) => i.kind === EXTERNAL_KIND.global && i.globalType?.mutable)) reasons.push('it imports a mutable global')
  if (m.globals.some((g) => g.mutable && g.valType === 0x7b)) reasons.push('it has a mutable v128 global')

  const facts = newFacts()
  const stateGlobals: string[] = []
  let memoryExport: string | undefined
  const out: Section[] = []
  const present = new Set(m.sections.map((s) => s.id))
  const newSection = (id: number): Section => ({ id, payload: new Uint8Array([0]) }) // empty vector

  // walk sections in canonical order, creating the ones the rewrite needs
  const sections = [...m.sections]
  const ensure = (id: number) => {
    if (present.has(id)) return
    const order = SECTION_ORDER.indexOf(id)
    let at = sections.findIndex((s) => s.id !== SECTION.custom && SECTION_ORDER.indexOf(s.id) > order)
    if (at < 0) at = sections.length
    sections.splice(at, 0, newSection(id))
    present.add(id)
  }
  if (opts.interrupt) {
    ensure(SECTION.type)
    ensure(SECTION.import)
    ensure(SECTION.global)
  }
  // the function-entry counter: a global, as it must count across calls; it counts down from fuel
  const entryGlobal = m.globalImportCount + m.globals.length
  ensure(SECTION.export)

  for (const s of sections) {
    const r = new Reader(s.payload)
    switch (s.id) {
      case SECTION.type: {
        if (!opts.interrupt) { out.push(s); break }
        const n = r.u32()
        const w = new Writer().u32(n + 1).bytes(s.payload.subarray(r.pos))
        w.byte(0x60).u32(0).u32(1).byte(0x7f) // () -> i32
        out.push({ id: s.id, payload: w.finish() })
        break
      }
      case SECTION.import: {
        if (!opts.interrupt) { out.push(s); break }
        const n = r.u32()
        const w = new Writer().u32(n + 1).bytes(s.payload.subarray(r.pos))
        w.name(INTERRUPT_IMPORT.module).name(INTERRUPT_IMPORT.field).byte(EXTERNAL_KIND.func).u32(m.typeCount)
        out.push({ id: s.id, payload: w.finish() })
        break
      }
      case SECTION.memory: {
        const n = r.u32()
        const w = new Writer().u32(n)
        for (let i = 0; i < n; i++) writeLimits(w, clampLimits(readLimits(r), opts.memoryMaxPages))
        out.push({ id: s.id, payload: w.finish() })
        break
      }
      case SECTION.global: {
        const n = r.u32()
        const w = new Writer().u32(opts.interrupt ? n + 1 : n)
        for (let i = 0; i < n; i++) {
          const start = r.pos
          readValType(r)
          r.byte()
          w.bytes(s.payload.subarray(start, r.pos))
          copyConstExpr(r, w, rw)
        }
        if (opts.interrupt) w.byte(0x7f).byte(0x01).byte(0x41).s32(opts.fuel).byte(0x0b) // (global (mut i32) (i32.const fuel))
        out.push({ id: s.id, payload: w.finish() })
        break
      }
      case SECTION.export: {
        const n = r.u32()
        const entries: Uint8Array[] = []
        for (let i = 0; i < n; i++) {
          const name = r.name()
          const kind = r.byte()
          const idx = r.u32()
          if (kind === EXTERNAL_KIND.memory && idx === 0) memoryExport ??= name
          const shifted = kind === EXTERNAL_KIND.func && idx >= rw.shiftFrom ? idx + rw.funcShift : idx
          entries.push(new Writer().name(name).byte(kind).u32(shifted).finish())
        }
        m.globals.forEach((g, i) => {
          if (!g.mutable || g.valType === 0x7b) return
          const name = STATE_GLOBAL_PREFIX + i
          stateGlobals.push(name)
          entries.push(new Writer().name(name).byte(EXTERNAL_KIND.global).u32(m.globalImportCount + i).finish())
        })
        if (mem0 && memoryExport === undefined) {
          memoryExport = MEMORY_EXPORT
          entries.push(new Writer().name(MEMORY_EXPORT).byte(EXTERNAL_KIND.memory).u32(0).finish())
        }
        out.push({ id: s.id, payload: new Writer().vec(entries).finish() })
        break
      }
      case SECTION.start: {
        const idx = r.u32()
        out.push({ id: s.id, payload: new Writer().u32(idx >= rw.shiftFrom ? idx + rw.funcShift : idx).finish() })
        break
      }
      case SECTION.element:
        out.push({ id: s.id, payload: rewriteElements(r, rw) })
        break
      case SECTION.code: {
        const n = r.u32()
        const w = new Writer().u32(n)
        for (let i = 0; i < n; i++) {
          const size = r.u32()
          const end = r.pos + size
          const body = new Writer()
          const groups = r.u32()
          const groupsStart = r.pos
          let locals = 0
          for (let g = 0; g < groups; g++) {
            locals += r.u32()
            readValType(r)
          }
          if (opts.interrupt) {
            // one more local group: the loop counter, after every existing local
            fuelLocal = (m.typeParamCounts[m.funcTypeIndices[i]!] ?? 0) + locals
            body.u32(groups + 1).bytes(s.payload.subarray(groupsStart, r.pos)).u32(1).byte(0x7f)
          } else {
            body.u32(groups).bytes(s.payload.subarray(groupsStart, r.pos))
          }
          hintOffsets = []
          if (opts.interrupt && opts.entryChecks !== false) {
            // function entry: --entries; at zero, call interrupt, which returns the next fuel
            body.byte(0x23).u32(entryGlobal).byte(0x41).s32(1).byte(0x6b).byte(0x22).u32(fuelLocal).byte(0x24).u32(entryGlobal)
            body.byte(0x20).u32(fuelLocal).byte(0x41).s32(0).byte(0x4c) // entries <= 0
            hintOffsets.push(body.length)
            body.byte(0x04).byte(0x40) // if
            body.byte(0x10).u32(interruptFunc).byte(0x24).u32(entryGlobal) // entries = interrupt()
            body.byte(0x0b) // end
            body.byte(0x41).s32(0).byte(0x21).u32(fuelLocal) // the local counts loop iterations from 0
          }
          copyExpr(r, end, body, rw, facts)
          if (hintOffsets.length) hints.push({ func: m.funcImportCount + 1 + i, offsets: hintOffsets })
          const b = body.finish()
          w.u32(b.length).bytes(b)
        }
        // the hints must come before the code they describe
        if (hints.length) out.push({ id: SECTION.custom, customName: BRANCH_HINT_SECTION, payload: branchHintSection(hints) })
        out.push({ id: s.id, payload: w.finish() })
        break
      }
      case SECTION.custom:
        if (s.customName === 'name' && rw.funcShift) {
          const rewritten = rewriteNames(s.payload, rw)
          if (rewritten) out.push({ id: s.id, payload: rewritten })
        } else {
          out.push(s)
        }
        break
      default:
        out.push(s)
    }
  }

  if (facts.mutatesTables) reasons.push('it changes tables at run time')
  if (facts.dropsDataSegments) reasons.push('it drops data segments at run time')
  if (!mem0 && stateGlobals.length === 0 && reasons.length === 0) {
    // nothing to restore: trivially safe
  }

  const w = new Writer().bytes(new Uint8Array(MAGIC)).bytes(new Uint8Array(CORE_VERSION))
  for (const s of out) w.byte(s.id).u32(s.payload.length).bytes(s.payload)
  return {
    bytes: w.finish(),
    interruptible: opts.interrupt,
    loops: facts.loops,
    stateGlobals,
    memoryExport: m.memories.length ? memoryExport : memImport ? memoryExport : undefined,
    importedMemory: memImport?.limits
      ? { module: memImport.module, field: memImport.field, limits: clampLimits(memImport.limits, opts.memoryMaxPages) }
      : undefined,
    snapshotSafe: reasons.length === 0,
    notSnapshotSafeBecause: reasons,
    initialPages: mem0?.min ?? 0,
  }
}

/**
 * Branch hints (a WebAssembly proposal V8 reads with --experimental-wasm-branch-hinting) marking
 * every inserted check as unlikely: V8 then keeps the call to the interrupt import out of the
 * loop's hot path, where its mere presence made the register allocator spill (+24% on sha256).
 */
export const BRANCH_HINT_SECTION = 'metadata.code.branch_hint'

function branchHintSection(hints: { func: number; offsets: number[] }[]): Uint8Array {
  const w = new Writer().name(BRANCH_HINT_SECTION).u32(hints.length)
  for (const h of hints) {
    w.u32(h.func).u32(h.offsets.length)
    for (const off of h.offsets) w.u32(off).u32(1).byte(0) // offset, hint size, "likely not taken"
  }
  return w.finish()
}

export class MemoryTooSmallError extends Error {
  constructor(readonly neededPages: number, readonly limitPages: number) {
    super(`the module starts with ${neededPages} pages (${(neededPages * 64) / 1024} MiB) of memory, above the limit of ${limitPages} pages (${(limitPages * 64) / 1024} MiB)`)
    this.name = 'MemoryTooSmallError'
  }
}

function clampLimits(l: Limits, maxPages: number | undefined): Limits {
  if (maxPages === undefined) return l
  const max = l.max === undefined ? maxPages : Math.min(l.max, maxPages)
  return { ...l, max, flags: l.flags | 0x01 }
}

function writeLimits(w: Writer, l: Limits): void {
  w.byte(l.flags).u32(l.min)
  if (l.flags & 0x01) w.u32(l.max!)
}

function rewriteElements(r: Reader, rw: ExprRewrite): Uint8Array {
  const n = r.u32()
  const w = new Writer().u32(n)
  const funcIdxVec = () => {
    const k = r.u32()
    w.u32(k)
    for (let i = 0; i < k; i++) {
      const idx = r.u32()
      w.u32(idx >= rw.shiftFrom ? idx + rw.funcShift : idx)
    }
  }
  const exprVec = () => {
    const k = r.u32()
    w.u32(k)
    for (let i = 0; i < k; i++) copyConstExpr(r, w, rw)
  }
  const copyRefType = () => {
    const start = r.pos
    readValType(r)
    w.bytes(r.buf.subarray(start, r.pos))
  }
  for (let i = 0; i < n; i++) {
    const flags = r.u32()
    w.u32(flags)
    switch (flags) {
      case 0: copyConstExpr(r, w, rw); funcIdxVec(); break
      case 1: case 3: w.byte(r.byte()); funcIdxVec(); break
      case 2: w.u32(r.u32()); copyConstExpr(r, w, rw); w.byte(r.byte()); funcIdxVec(); break
      case 4: copyConstExpr(r, w, rw); exprVec(); break
      case 5: case 7: copyRefType(); exprVec(); break
      case 6: w.u32(r.u32()); copyConstExpr(r, w, rw); copyRefType(); exprVec(); break
      default: throw new WasmFormatError(`unknown element segment flags ${flags}`, r.pos)
    }
  }
  return w.finish()
}

/** Shifts function indices in the name section; returns undefined when it cannot be kept. */
function rewriteNames(payload: Uint8Array, rw: ExprRewrite): Uint8Array | undefined {
  try {
    const r = new Reader(payload)
    const w = new Writer().name(r.name())
    while (!r.done) {
      const id = r.byte()
      const size = r.u32()
      const end = r.pos + size
      if (id === 0) {
        w.byte(id).u32(size).bytes(r.bytes(size))
        continue
      }
      if (id !== 1 && id !== 2) {
        r.pos = end // other name maps are dropped: they only help debugging
        continue
      }
      const sub = new Writer()
      const count = r.u32()
      sub.u32(count)
      for (let i = 0; i < count; i++) {
        const idx = r.u32()
        sub.u32(idx >= rw.shiftFrom ? idx + rw.funcShift : idx)
        if (id === 1) {
          sub.name(r.name())
        } else {
          const locals = r.u32()
          sub.u32(locals)
          for (let j = 0; j < locals; j++) sub.u32(r.u32()).name(r.name())
        }
      }
      if (r.pos !== end) return undefined
      const b = sub.finish()
      w.byte(id).u32(b.length).bytes(b)
    }
    return w.finish()
  } catch {
    return undefined
  }
}
