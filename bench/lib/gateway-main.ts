// A kindling gateway in its own process for the HTTP measurements, as `kindling serve` runs it,
// plus an IPC side door for the benchmark: the per-call timings the tiers measured (to check that
// a cold call really instantiated on its critical path), pool state and process ids for memory.
// argv[2] is JSON: { dataDir, config: Partial<Config> }.
import { type ColdStart, createKindling, loadConfig } from '../../runtime/index.js'
import type { CallRequest, InvokeResult, InvokeTimings } from '../../isolation/index.js'

interface Args {
  dataDir: string
  config: Record<string, unknown>
}
const args = JSON.parse(process.argv[2] ?? '{}') as Args
const k = await createKindling(loadConfig({}, { deployExamples: false, port: 0, host: '127.0.0.1', ...args.config, dataDir: args.dataDir }))
const url = await k.listen()

/** recorded per function key while recording is on */
const recorded = new Map<string, { timings: (InvokeTimings | null)[]; coldStarts: ColdStart[]; off(): void }>()

function startRecording(key: string): string | undefined {
  const fn = k.dispatcher.getByKey(key)
  const pool = fn?.pool
  if (!pool) return `no function ${key}`
  stopRecording(key)
  const rec = { timings: [] as (InvokeTimings | null)[], coldStarts: [] as ColdStart[], off: () => {} }
  const original = pool.invoke
  // an own property shadows the prototype method only while recording
  pool.invoke = async (req: CallRequest, signal: AbortSignal): Promise<InvokeResult> => {
    const r = await original.call(pool, req, signal)
    rec.timings.push(r.timings ?? null)
    return r
  }
  const onCold = (c: ColdStart) => rec.coldStarts.push(c)
  pool.on('cold-start', onCold)
  rec.off = () => {
    delete (pool as { invoke?: unknown }).invoke
    pool.off('cold-start', onCold)
  }
  recorded.set(key, rec)
  return undefined
}

function stopRecording(key: string): void {
  recorded.get(key)?.off()
  recorded.delete(key)
}

async function waitIdle(key: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const s = k.dispatcher.getByKey(key)?.pool?.stats
    if (s && s.idle > 0) return true
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 1))
  }
}

function appHostPids(): number[] {
  const pids: number[] = []
  for (const t of k.tiers.values()) {
    const hosts = (t as { hosts?: { apps(): string[]; running(app: string): { pid?: number } | undefined } }).hosts
    if (!hosts) continue
    for (const app of hosts.apps()) {
      const pid = hosts.running(app)?.pid
      if (pid && !pids.includes(pid)) pids.push(pid)
    }
  }
  return pids
}

type Command =
  | { id: number; cmd: 'record'; key: string }
  | { id: number; cmd: 'take'; key: string }
  | { id: number; cmd: 'drain'; key: string }
  | { id: number; cmd: 'wait-idle'; key: string; timeoutMs: number }
  | { id: number; cmd: 'stats'; key: string }
  | { id: number; cmd: 'pids' }
  | { id: number; cmd: 'stop' }
  | { id: number; cmd: 'exit-now' }

process.on('message', (m: Command) => {
  const reply = (value: unknown, error?: string) => process.send?.({ id: m.id, value, error })
  void (async () => {
    switch (m.cmd) {
      case 'record':
        return reply(null, startRecording(m.key))
      case 'take': {
        const rec = recorded.get(m.key)
        stopRecording(m.key)
        return reply(rec ? { timings: rec.timings, coldStarts: rec.coldStarts } : { timings: [], coldStarts: [] })
      }
      case 'drain': {
        // what was recorded since the last drain; recording goes on
        const rec = recorded.get(m.key)
        const out = rec ? { timings: rec.timings.splice(0), coldStarts: rec.coldStarts.splice(0) } : { timings: [], coldStarts: [] }
        return reply(out)
      }
      case 'wait-idle':
        return reply(await waitIdle(m.key, m.timeoutMs))
      case 'stats':
        return reply(k.dispatcher.getByKey(m.key)?.pool?.stats ?? null)
      case 'pids':
        return reply({ gateway: process.pid, appHosts: appHostPids(), tiers: [...k.tiers.keys()], unavailable: Object.fromEntries([...k.tiers].map(([n, t]) => [n, t.unavailableReason()])) })
      case 'exit-now':
        // for profiles: exit without closing, so the app hosts end by themselves (fd 3 closes)
        process.exit(0)
      case 'stop':
        await k.close()
        reply(null)
        process.exit(0)
    }
  })().catch((e: Error) => reply(null, e.message))
})
const shutdown = () => {
  void k.close().finally(() => process.exit(0))
}
process.on('disconnect', shutdown)
process.once('SIGTERM', shutdown)
process.send?.({ id: 0, value: { url, auth: k.credentials ? `Basic ${Buffer.from(`${k.credentials.user}:${k.credentials.password}`).toString('base64')}` : undefined } })
