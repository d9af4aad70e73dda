// Messages between the gateway and its spawner process (Node IPC, advanced serialisation, so
// Buffers travel as bytes).

export interface SpawnRequest {
  op: 'spawn'
  id: number
  cmd: string
  args: string[]
  /** stdin: not connected, a pipe the gateway writes through the spawner, or a FIFO to open for reading */
  stdin: 'ignore' | 'pipe' | { fifo: string }
  /** how many output pipes: 1 = stdout, 2 = + stderr, 3 = + fd 3, ... */
  outputs: number
  env?: Record<string, string>
}

/**
 * What the spawner undoes when the gateway goes away without doing it (kill -9): one container's
 * processes, runtime state, cgroups, mounts and folder. The gateway registers it before the
 * container is created and withdraws it once the container is deleted.
 */
export interface LastRites {
  /** OCI runtime binary and container id, for `<runtime> delete -f <id>` (none for a shared folder) */
  runtime?: string
  containerId?: string
  /** absolute cgroup folders of the container, one per hierarchy */
  cgroups: string[]
  /** the sandbox folder: mounts under it are detached, then it is removed */
  dir: string
  /** other folders of the container to remove (an HTTP socket folder outside the sandbox folder) */
  alsoRemove?: string[]
}

export type ToSpawner =
  | SpawnRequest
  | { op: 'guard'; key: string; rites: LastRites }
  | { op: 'unguard'; key: string }
  | { op: 'write'; id: number; data: Buffer }
  | { op: 'end'; id: number }
  | { op: 'kill'; id: number; signal: NodeJS.Signals | number }

export type FromSpawner =
  | { op: 'spawned'; id: number; pid: number }
  | { op: 'data'; id: number; fd: number; data: Buffer }
  | { op: 'closed'; id: number; fd: number }
  | { op: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { op: 'error'; id: number; message: string }
