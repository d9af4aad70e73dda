// Where the transpiler package is installed, and its version (part of cache keys).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const TRANSPILER_PACKAGE = '@bytecodealliance/jco-transpile'

/** The package's folder, or undefined when it is not installed. */
export function transpilerDir(): string | undefined {
  try {
    // its exports map lists neither package.json nor the vendor files: start from the entry point
    let dir = path.dirname(fileURLToPath(import.meta.resolve(TRANSPILER_PACKAGE)))
    while (!fs.existsSync(path.join(dir, 'package.json'))) {
      const up = path.dirname(dir)
      if (up === dir) return undefined
      dir = up
    }
    return dir
  } catch {
    return undefined
  }
}

export function transpilerVersion(): string | undefined {
  const dir = transpilerDir()
  return dir && (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version
}
