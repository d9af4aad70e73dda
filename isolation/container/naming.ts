// Names of everything the tier creates on the host. Every container id and cgroup carries the
// "kindling-" prefix and a marker that is unique to one data dir, so the cleanup at start removes
// what an earlier run of the same data dir left behind and never touches anything else.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const PREFIX = 'kindling-'

/** The data dir's marker: 8 hex digits, made on first use and kept in the tier's state dir. */
export function dataDirMarker(stateDir: string): string {
  const file = path.join(stateDir, 'marker')
  try {
    const m = fs.readFileSync(file, 'utf8').trim()
    if (/^[0-9a-f]{8}$/.test(m)) return m
  } catch {
    // first run
  }
  const m = crypto.randomBytes(4).toString('hex')
  fs.mkdirSync(stateDir, { recursive: true })
  fs.writeFileSync(file, m + '\n')
  return m
}

export class Naming {
  private counter = 0
  private readonly epoch = Date.now().toString(36)

  constructor(
    readonly stateDir: string,
    readonly marker: string,
  ) {}

  /** Prefix of every container id of this data dir. */
  get idPrefix(): string {
    return `${PREFIX}${this.marker}-`
  }

  /** A new container id, unique across restarts: kindling-<marker>-<epoch><n>. */
  containerId(): string {
    return `${this.idPrefix}${this.epoch}${(this.counter++).toString(36)}`
  }

  /** The cgroup (same relative path in every hierarchy) of one container. */
  cgroupParent(): string {
    return `/${PREFIX}${this.marker}`
  }

  cgroupsPath(id: string): string {
    return `${this.cgroupParent()}/${id}`
  }

  get sandboxesDir(): string {
    return path.join(this.stateDir, 'sandboxes')
  }

  sandboxDir(id: string): string {
    return path.join(this.sandboxesDir, id)
  }

  get functionsDir(): string {
    return path.join(this.stateDir, 'functions')
  }

  /**
   * Folders for HTTP sockets. A socket path must stay under 108 bytes, so a deep data dir uses a
   * short folder in the system temp dir instead (also removed by the cleanup).
   */
  socketDir(id: string): string {
    // in the sandbox's tmpfs (overlay.ts), so the container's mountinfo shows no host path
    const inState = path.join(this.sandboxDir(id), 'fs', 'sock')
    if (inState.length + '/http.sock'.length < 100) return inState
    return path.join(this.shortSocketRoot, id.slice(this.idPrefix.length))
  }

  get shortSocketRoot(): string {
    return path.join(os.tmpdir(), `${PREFIX}${this.marker}`)
  }
}
