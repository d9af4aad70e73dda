// Writing a private file whole: 0600, readers see nothing or all of it, and a write that fails (a
// full disk) leaves no partial temporary file holding the space. Used by the tiers' caches and, through
// runtime/files.ts, by the registry (which may not import isolation/ itself).
import fs from 'node:fs'

export const PRIVATE_FILE_MODE = 0o600

export function writePrivateAtomic(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
  try {
    const fd = fs.openSync(tmp, 'w', PRIVATE_FILE_MODE)
    try {
      fs.writeSync(fd, bytes)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
}
