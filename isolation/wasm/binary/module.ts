// Parses a core WebAssembly module into its sections and the facts kindling needs about it:
// imports, exports, memories, globals, tables and function counts. Function bodies are kept as
// byte ranges; instructions.ts walks them.
import { Reader, WasmFormatError } from './bytes.js'

export const SECTION = {
  custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7,
  start: 8, element: 9, code: 10, data: 11, datacount: 12, tag: 13,
} as const

/** Canonical order of the known sections (the binary format requires it). */
export const SECTION_ORDER = [1, 2, 3, 4, 5, 6, 13, 7, 8, 9, 12, 10, 11]

export const EXTERNAL_KIND = { func: 0, table: 1, memory: 2, global: 3, tag: 4 } as const

export interface Section {
  id: number
  /** custom sections only */
  customName?: string
  /** payload without the id and size */
  payload: Uint8Array
}

export interface Limits {
  flags: number
  min: number
  max: number | undefined
  shared: boolean
  is64: boolean
}

export interface Import {
  module: string
  field: string
  kind: number
  /** function imports: their type index */
  typeIndex?: number
  limits?: Limits
  globalType?: { valType: number; mutable: boolean }
}

export interface Export {
  name: string
  kind: number
  index: number
}

export interface GlobalDef {
  valType: number
  mutable: boolean
}

export interface ParsedModule {
  sections: Section[]
  imports: Import[]
  exports: Export[]
  funcImportCount: number
  globalImportCount: number
  memoryImportCount: number
  tableImportCount: number
  definedFuncCount: number
  typeCount: number
  memories: Limits[]
  globals: GlobalDef[]
  tableCount: number
  hasStart: boolean
  passiveDataSegments: number
  /** parameter count of each type in the type section */
  typeParamCounts: number[]
  /** type index of each defined function */
  funcTypeIndices: number[]
}

export const MAGIC = [0x00, 0x61, 0x73, 0x6d]
export const CORE_VERSION = [0x01, 0x00, 0x00, 0x00]

export function readLimits(r: Reader): Limits {
  const flags = r.byte()
  if (flags > 0x07) throw new WasmFormatError(`unknown limits flags 0x${flags.toString(16)}`, r.pos - 1)
  const is64 = (flags & 0x04) !== 0
  const readIdx = () => (is64 ? readU64AsNumber(r) : r.u32())
  const min = readIdx()
  const max = flags & 0x01 ? readIdx() : undefined
  return { flags, min, max, shared: (flags & 0x02) !== 0, is64 }
}

function readU64AsNumber(r: Reader): number {
  let result = 0
  let mul = 1
  for (let i = 0; i < 10; i++) {
    const b = r.byte()
    result += (b & 0x7f) * mul
    mul *= 128
    if ((b & 0x80) === 0) return result
  }
  throw new WasmFormatError('u64 too long', r.pos)
}

/** Reads a value type, including the typed function references forms (0x63/0x64 heaptype). */
export function readValType(r: Reader): number {
  const t = r.byte()
  if (t === 0x63 || t === 0x64) r.s33()
  return t
}

export function readTableType(r: Reader): void {
  readValType(r)
  readLimits(r)
}

/** Splits a module into sections and collects the facts above. Throws WasmFormatError on bad input. */
export function parseModule(bytes: Uint8Array): ParsedModule {
  if (bytes.length < 8) throw new WasmFormatError('too short to be a WebAssembly module')
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) throw new WasmFormatError('not a WebAssembly binary (no \\0asm header)', 0)
  for (let i = 0; i < 4; i++) {
    if (bytes[4 + i] !== CORE_VERSION[i]) throw new WasmFormatError('not a core module (unknown version or a component)', 4)
  }
  const r = new Reader(bytes, 8)
  const m: ParsedModule = {
    sections: [], imports: [], exports: [], funcImportCount: 0, globalImportCount: 0, memoryImportCount: 0,
    tableImportCount: 0, definedFuncCount: 0, typeCount: 0, memories: [], globals: [], tableCount: 0,
    hasStart: false, passiveDataSegments: 0, typeParamCounts: [], funcTypeIndices: [],
  }
  let lastOrder = -1
  while (!r.done) {
    const id = r.byte()
    const size = r.u32()
    const start = r.pos
    const payload = r.bytes(size)
    const section: Section = { id, payload }
    if (id === SECTION.custom) {
      section.customName = new Reader(payload).name()
    } else {
      const order = SECTION_ORDER.indexOf(id)
      if (order < 0) throw new WasmFormatError(`unknown section id ${id}`, start - 1)
      if (order <= lastOrder) throw new WasmFormatError(`section ${id} out of order`, start - 1)
      lastOrder = order
      readSectionFacts(m, id, new Reader(bytes, start, start + size))
    }
    m.sections.push(section)
  }
  return m
}

function readSectionFacts(m: ParsedModule, id: number, r: Reader): void {
  switch (id) {
    case SECTION.type: {
      m.typeCount = r.u32()
      for (let i = 0; i < m.typeCount; i++) {
        const form = r.byte()
        if (form !== 0x60) throw new WasmFormatError(`type form 0x${form.toString(16)} (GC types) is not supported`, r.pos - 1)
        const params = r.u32()
        for (let p = 0; p < params; p++) readValType(r)
        const results = r.u32()
        for (let p = 0; p < results; p++) readValType(r)
        m.typeParamCounts.push(params)
      }
      return
    }
    case SECTION.import: {
      const n = r.u32()
      for (let i = 0; i < n; i++) {
        const imp: Import = { module: r.name(), field: r.name(), kind: r.byte() }
        switch (imp.kind) {
          case EXTERNAL_KIND.func:
            imp.typeIndex = r.u32()
            m.funcImportCount++
            break
          case EXTERNAL_KIND.table:
            readTableType(r)
            m.tableImportCount++
            break
          case EXTERNAL_KIND.memory:
            imp.limits = readLimits(r)
            m.memoryImportCount++
            break
          case EXTERNAL_KIND.global:
            imp.globalType = { valType: readValType(r), mutable: r.byte() === 1 }
            m.globalImportCount++
            break
          case EXTERNAL_KIND.tag:
            r.byte()
            r.u32()
            break
          default:
            throw new WasmFormatError(`unknown import kind ${imp.kind}`, r.pos - 1)
        }
        m.imports.push(imp)
      }
      return
    }
    case SECTION.function:
      m.definedFuncCount = r.u32()
      for (let i = 0; i < m.definedFuncCount; i++) m.funcTypeIndices.push(r.u32())
      return
    case SECTION.table:
      m.tableCount = r.u32()
      return
    case SECTION.memory: {
      const n = r.u32()
      for (let i = 0; i < n; i++) m.memories.push(readLimits(r))
      return
    }
    case SECTION.global: {
      const n = r.u32()
      for (let i = 0; i < n; i++) {
        const valType = readValType(r)
        const mutable = r.byte() === 1
        m.globals.push({ valType, mutable })
        skipConstExpr(r)
      }
      return
    }
    case SECTION.export: {
      const n = r.u32()
      for (let i = 0; i < n; i++) m.exports.push({ name: r.name(), kind: r.byte(), index: r.u32() })
      return
    }
    case SECTION.start:
      m.hasStart = true
      return
    case SECTION.data: {
      const n = r.u32()
      for (let i = 0; i < n; i++) {
        const flags = r.u32()
        if (flags === 1) m.passiveDataSegments++
        if (flags === 2) r.u32()
        if (flags !== 1) skipConstExpr(r)
        r.skip(r.u32())
      }
      return
    }
    default:
      return
  }
}

/** Skips a constant expression up to and including its final `end`. */
export function skipConstExpr(r: Reader): void {
  for (;;) {
    const op = r.byte()
    switch (op) {
      case 0x0b:
        return
      case 0x41: case 0x42: case 0x23: case 0xd2:
        r.skipLeb()
        break
      case 0x43:
        r.skip(4)
        break
      case 0x44:
        r.skip(8)
        break
      case 0xd0:
        r.s33()
        break
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e:
        break // extended-const arithmetic
      case 0xfd: {
        const sub = r.u32()
        if (sub !== 12) throw new WasmFormatError(`unsupported SIMD op ${sub} in a constant expression`, r.pos)
        r.skip(16)
        break
      }
      default:
        throw new WasmFormatError(`unsupported opcode 0x${op.toString(16)} in a constant expression`, r.pos - 1)
    }
  }
}
