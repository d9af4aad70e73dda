// GET /system/bench: the latest benchmark runs (bench/results/<label>-latest.json, as bench/run.ts
// writes them) with their rows and targets, for the dashboard's charts. Read when asked: a bench
// run in another process shows up without a restart.
import type { FastifyInstance } from 'fastify'
import fs from 'node:fs'
import path from 'node:path'

/** a results file larger than this is not a run record the bench wrote */
const MAX_RESULT_BYTES = 16 * 1024 * 1024

interface ScopeRecord {
  scope: string
  status: string
  reason?: string
  rows: unknown[]
  targets: unknown[]
  seconds?: number
}

interface RunRecord {
  kind: string
  label: string
  quick: boolean
  seconds: number
  environment?: { date?: string; command?: string; cpu?: { model?: string; cores?: number }; git?: { commit?: string } }
  scopes: ScopeRecord[]
}

function readRun(file: string): RunRecord | undefined {
  try {
    if (fs.statSync(file).size > MAX_RESULT_BYTES) return undefined
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord
    return r && r.kind === 'kindling-bench' && Array.isArray(r.scopes) ? r : undefined
  } catch {
    return undefined // half written, or not JSON: skipped
  }
}

/** The latest run of each label, newest first, trimmed to what the charts use. */
export function latestBenchRuns(dir: string): unknown[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('-latest.json'))
  } catch {
    return []
  }
  const runs = []
  for (const n of names) {
    const r = readRun(path.join(dir, n))
    if (!r) continue
    const env = r.environment ?? {}
    runs.push({
      label: r.label,
      quick: r.quick,
      date: env.date ?? null,
      command: env.command ?? null,
      cpu: env.cpu ? `${env.cpu.model ?? '?'} (${env.cpu.cores ?? '?'} cores)` : null,
      commit: env.git?.commit ?? null,
      seconds: r.seconds,
      scopes: r.scopes.map((s) => ({ scope: s.scope, status: s.status, reason: s.reason, rows: s.rows, targets: s.targets, seconds: s.seconds })),
    })
  }
  return runs.sort((a, b) => String(b.date).localeCompare(String(a.date)))
}

export function registerBenchRoutes(app: FastifyInstance, opts: { resultsDir: string }): void {
  app.get('/system/bench', async (_req, reply) => reply.header('cache-control', 'no-store').send({ dir: opts.resultsDir, runs: latestBenchRuns(opts.resultsDir) }))
}
