// Runs another folder's stand-alone benchmark script as a child process (from source, with tsx)
// and turns what it prints and writes into a ScopeResult, until that folder exports run(ctx).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { track } from './children.js'
import type { ScriptFallback } from './registry.js'
import { emptyResult, type Row, type ScopeContext, type ScopeResult, target } from './scope.js'

interface LegacyRow {
  group?: string
  case?: string
  name?: string
  n?: number
  medianMs?: number
  p99Ms?: number
  minMs?: number
  maxMs?: number
  ratioToRawCrun?: number | null
}
interface LegacyTarget {
  target?: string
  value?: number
  limit?: number
  holds?: boolean
}

/** Rows and targets from a JSON file in the container script's format (medianMs, p99Ms, ratio...). */
export function legacyRows(json: unknown): { rows: Row[]; targets: ScopeResult['targets'] } {
  const j = json as { rows?: LegacyRow[]; targets?: LegacyTarget[] }
  const rows: Row[] = (j.rows ?? [])
    .filter((r) => typeof r.medianMs === 'number')
    .map((r) => ({
      group: r.group ?? '',
      name: r.case ?? r.name ?? '',
      unit: 'ms' as const,
      n: r.n ?? 0,
      p50: r.medianMs!,
      p99: r.p99Ms,
      min: r.minMs,
      max: r.maxMs,
      ratio: r.ratioToRawCrun ?? undefined,
      baseline: r.ratioToRawCrun ? `${r.group}|raw crun run (same bundle)` : undefined,
    }))
  const targets = (j.targets ?? [])
    .filter((t) => typeof t.value === 'number' && typeof t.limit === 'number')
    .map((t, i) => {
      const text = t.target ?? `target ${i + 1}`
      const unit = /ms\b/.test(text) ? ('ms' as const) : ('ratio' as const)
      return target({ id: text.replace(/[^a-z0-9]+/gi, '-').toLowerCase(), text, value: t.value!, limit: t.limit!, unit, op: '<=' })
    })
  return { rows, targets }
}

export async function runScripts(ctx: ScopeContext, scripts: ScriptFallback[], timeoutMs: number): Promise<ScopeResult> {
  const result = emptyResult(ctx.scope, 'ok')
  const texts: string[] = []
  result.notes.push(`measured by ${scripts.map((f) => path.relative(ctx.repoRoot, f.file)).join(', ')} (stand-alone scripts, run as child processes until bench/${ctx.scope}/scope.ts exports run(ctx))`)
  for (const script of scripts) {
    const built = path.join(ctx.distRoot, path.relative(ctx.repoRoot, script.file)).replace(/\.ts$/, '.js')
    const fromDist = script.from === 'dist' && fs.existsSync(built)
    const file = fromDist ? built : script.file
    const args = [...(fromDist ? [] : ['--import', 'tsx']), file, ...(ctx.quick ? ['--quick'] : [])]
    ctx.progress.step(`node ${args.map((a) => (path.isAbsolute(a) ? path.relative(ctx.repoRoot, a) : a)).join(' ')}`)
    const out = await new Promise<{ code: number | null; text: string; timedOut: boolean }>((resolve) => {
      const child = track(spawn(process.execPath, args, { cwd: ctx.repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }), 'SIGINT')
      let text = ''
      let timedOut = false
      const onData = (d: Buffer) => {
        text += d.toString()
        for (const line of d.toString().split('\n')) if (line.trim()) ctx.progress.tick(0, 1, line.trim().slice(0, 100))
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', onData)
      const timer = setTimeout(() => {
        timedOut = true
        child.kill('SIGINT')
        setTimeout(() => child.kill('SIGKILL'), 5000).unref()
      }, timeoutMs)
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({ code, text, timedOut })
      })
    })
    const rel = path.relative(ctx.repoRoot, file)
    texts.push(`$ node ${args.map((a) => (path.isAbsolute(a) ? path.relative(ctx.repoRoot, a) : a)).join(' ')}\n${out.text.trim().split('\n').slice(-60).join('\n')}`)
    const firstLine = out.text.trim().split('\n')[0] ?? ''
    if (/^skipp?(ed|ing)\b/i.test(firstLine) && !out.text.includes('results:')) {
      result.status = 'skipped'
      result.reason = `${rel}: ${firstLine}`
      continue
    }
    if (out.timedOut || out.code !== 0) {
      result.status = 'failed'
      result.reason = `${rel} ${out.timedOut ? `ran past its ${Math.round(timeoutMs / 1000)} s budget` : `exited with ${out.code}`}`
      result.notes.push(...out.text.trim().split('\n').slice(-5))
      continue
    }
    const m = /results:\s*(\S+\.json)/.exec(out.text)
    if (m) {
      const jsonFile = path.resolve(ctx.repoRoot, m[1]!)
      try {
        const { rows, targets } = legacyRows(JSON.parse(fs.readFileSync(jsonFile, 'utf8')))
        result.rows.push(...rows)
        result.targets.push(...targets)
        result.notes.push(`its own results: ${path.relative(ctx.repoRoot, jsonFile)}`)
      } catch (e) {
        result.notes.push(`could not read ${jsonFile}: ${(e as Error).message}`)
      }
    }
    result.data = { ...(result.data ?? {}), [rel]: out.text.slice(-8000) }
  }
  // the scripts' own tables, verbatim, when they could not be read as rows
  if (!result.rows.length && texts.length) result.text = texts.join('\n\n')
  return result
}
