// The data dir is private to the gateway's user: it holds secret values, queued request bodies and
// headers, and the basic-auth password. Directories are 0700 and the files kindling writes 0600;
// a data dir left more open by an older kindling (or made by hand) is fixed at start.
import fs from 'node:fs'
import path from 'node:path'
import { PRIVATE_FILE_MODE, writePrivateAtomic } from '../files.js'

export { PRIVATE_FILE_MODE, writePrivateAtomic }
export const PRIVATE_DIR_MODE = 0o700

/** Creates `dir` (and missing parents) as 0700; an existing dir is left alone. */
export function mkdirPrivate(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
}

/** chmods `p` to `mode` when it is more open; returns the old mode when it changed. */
function tighten(p: string, mode: number): number | undefined {
  let st: fs.Stats
  try {
    st = fs.lstatSync(p)
  } catch {
    return undefined
  }
  if (st.isSymbolicLink()) return undefined
  const old = st.mode & 0o777
  if ((old & ~mode) === 0) return undefined
  try {
    fs.chmodSync(p, old & mode)
  } catch (e) {
    // not ours to change (EPERM): said in the warning, the start goes on
    process.stderr.write(`kindling: could not make ${p} private (mode ${old.toString(8)}): ${(e as Error).message}\n`)
    return undefined
  }
  return old
}

/**
 * Makes the data dir and what kindling keeps in it private: the dir itself, the database and its
 * WAL files, and the secrets, logs and artifacts folders with their files. Other folders (images,
 * caches, tier state) are only reachable through the data dir, so their own modes (a container's
 * root filesystem needs its own) are left as they are. Returns what was fixed, for a warning.
 */
export function makeDataDirPrivate(dataDir: string): string[] {
  mkdirPrivate(dataDir)
  const fixed: string[] = []
  const fix = (p: string, mode: number) => {
    const old = tighten(p, mode)
    if (old !== undefined) fixed.push(`${path.relative(dataDir, p) || '.'} (was ${old.toString(8)})`)
  }
  fix(dataDir, PRIVATE_DIR_MODE)
  for (const f of ['kindling.db', 'kindling.db-wal', 'kindling.db-shm', 'kindling.db-journal']) fix(path.join(dataDir, f), PRIVATE_FILE_MODE)
  for (const d of ['secrets', 'logs', 'artifacts', path.join('artifacts', 'sha256'), 'images']) fix(path.join(dataDir, d), PRIVATE_DIR_MODE)
  for (const d of ['secrets', 'logs', path.join('artifacts', 'sha256')]) {
    let names: string[] = []
    try {
      names = fs.readdirSync(path.join(dataDir, d))
    } catch {
      continue
    }
    for (const n of names) {
      const p = path.join(dataDir, d, n)
      if (fs.lstatSync(p).isFile()) fix(p, PRIVATE_FILE_MODE)
    }
  }
  return fixed
}

