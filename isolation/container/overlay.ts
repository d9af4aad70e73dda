// A writable root filesystem for deployments with readOnlyRootFilesystem=false: an overlay of the
// shared, read-only image with a per-sandbox upper folder, so writes never reach the image or
// another sandbox. It is a host mount under the tier's state dir; dispose and the cleanup at start
// unmount it.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export async function mountOverlay(lower: string, sandboxDir: string): Promise<string> {
  for (const p of [lower, sandboxDir]) {
    if (/[,:\s]/.test(p)) throw new Error(`cannot make an overlay over "${p}": the path holds a comma, colon or space`)
  }
  const upper = path.join(sandboxDir, 'upper')
  const work = path.join(sandboxDir, 'work')
  const merged = path.join(sandboxDir, 'rootfs')
  for (const d of [upper, work, merged]) fs.mkdirSync(d, { recursive: true })
  await execFileAsync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged])
  return merged
}

export async function unmount(target: string): Promise<void> {
  try {
    await execFileAsync('umount', [target])
  } catch {
    // busy or already gone: detach it lazily so the folder can be removed
    await execFileAsync('umount', ['-l', target]).catch(() => {})
  }
}

/** Mount points at or below `dir`, mounted last first (mountinfo lists them in mount order), so each goes before what it sits on. */
export function mountsUnder(dir: string): string[] {
  let text = ''
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    return []
  }
  const prefix = dir.endsWith('/') ? dir : dir + '/'
  const out: string[] = []
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4]
    if (!mp) continue
    const p = mp.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (p === dir || p.startsWith(prefix)) out.push(p)
  }
  return out.reverse()
}
