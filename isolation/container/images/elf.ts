// Just enough ELF parsing to tell a static binary (usable in any rootfs) from a dynamic one.
import fs from 'node:fs'

const PT_INTERP = 3

/** The program interpreter (dynamic loader) of an ELF64 file, null for a static binary, undefined if not ELF64. */
export function elfInterpreter(file: string): string | null | undefined {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return undefined
  }
  try {
    const head = Buffer.alloc(64)
    if (fs.readSync(fd, head, 0, 64, 0) < 64) return undefined
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined
    const phoff = Number(head.readBigUInt64LE(0x20))
    const phentsize = head.readUInt16LE(0x36)
    const phnum = head.readUInt16LE(0x38)
    const table = Buffer.alloc(phentsize * phnum)
    fs.readSync(fd, table, 0, table.length, phoff)
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize
      if (table.readUInt32LE(at) !== PT_INTERP) continue
      const offset = Number(table.readBigUInt64LE(at + 8))
      const size = Number(table.readBigUInt64LE(at + 32))
      const buf = Buffer.alloc(Math.min(size, 4096))
      fs.readSync(fd, buf, 0, buf.length, offset)
      return buf.toString('latin1').replace(/\0.*$/s, '')
    }
    return null
  } finally {
    fs.closeSync(fd)
  }
}

export function isStaticElf(file: string): boolean {
  return elfInterpreter(file) === null
}

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/usr/sbin/busybox', '/sbin/busybox']

/** The host's statically linked busybox (Debian package busybox-static), or undefined. */
export function findStaticBusybox(): string | undefined {
  for (const c of BUSYBOX_CANDIDATES) {
    if (isStaticElf(c)) return fs.realpathSync(c)
  }
  return undefined
}
