// Small helpers of the conformance suite: deploy a fixture through the gateway API, wait until it
// has a warm sandbox, call it, and read the CPU time of OS threads from /proc.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { ERRORS, isErrorCode } from '../../runtime/errors.js'
import type { TestKindling } from '../helpers/kindling.js'
import type { FixtureSpec } from './fixtures.js'
import { type FunctionRef, until } from './rows.js'

export interface Reply {
  status: number
  body: string
  headers: Record<string, string | string[] | number | undefined>
  errorCode: string | undefined
  ms: number
}

export async function deploy(k: TestKindling, name: string, tier: string, spec: FixtureSpec, labels: Record<string, string> = {}): Promise<FunctionRef> {
  const image = spec.wasm ? await k.upload(spec.wasm) : spec.image!
  const body: Record<string, unknown> = {
    service: name,
    image,
    labels: { 'com.kindling.isolation': tier, ...spec.labels, ...labels },
  }
  if (spec.envProcess) body.envProcess = spec.envProcess
  if (spec.envVars) body.envVars = spec.envVars
  if (spec.limits) body.limits = spec.limits
  const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: body })
  if (res.statusCode !== 202) throw new Error(`deploy ${name} failed: ${res.statusCode} ${res.body}`)
  const ref = { key: `${name}.openfaas-fn`, name, app: (body.labels as Record<string, string>)['com.kindling.app'] ?? name }
  await warm(k, name)
  return ref
}

/** Waits until the function has a warm sandbox (its deployment spawns one in the background). */
export async function warm(k: TestKindling, name: string, n = 1): Promise<void> {
  await until(() => (k.dispatcher.get(name, 'openfaas-fn')?.pool?.stats.available ?? 0) >= n, 30_000, `${name} to have ${n} warm sandbox(es)`)
}

export async function call(k: TestKindling, name: string, body = '', extra: { headers?: Record<string, string>; path?: string } = {}): Promise<Reply> {
  const t0 = Date.now()
  const res = await k.app.inject({ method: 'POST', url: `/function/${name}${extra.path ?? ''}`, payload: body, headers: extra.headers ?? {} })
  const code = res.headers['x-kindling-error']
  if (typeof code === 'string') assertErrorBody(res.statusCode, res.headers['content-type'], res.body, code)
  return { status: res.statusCode, body: res.body, headers: res.headers, errorCode: typeof code === 'string' ? code : undefined, ms: Date.now() - t0 }
}

/** One error model on every tier: an error kindling made is its JSON { code, status, message }. */
function assertErrorBody(status: number, contentType: unknown, body: string, code: string): void {
  assert.ok(isErrorCode(code), `X-Kindling-Error ${code} is in the error table`)
  assert.equal(status, ERRORS[code].status, `${code} answers its table status`)
  assert.equal(contentType, 'application/json; charset=utf-8', `${code} answers JSON: ${body}`)
  const e = JSON.parse(body) as Record<string, unknown>
  assert.deepEqual(Object.keys(e), ['code', 'status', 'message'])
  assert.equal(e.code, code)
  assert.equal(e.status, status)
}

export async function undeploy(k: TestKindling, name: string): Promise<number> {
  const res = await k.app.inject({ method: 'DELETE', url: '/system/functions', headers: k.auth, payload: { functionName: name } })
  return res.statusCode
}

/** milliseconds per tick of /proc/<pid>/task/<tid>/stat times (USER_HZ is 100 on Linux) */
export const TICK_MS = 10

/** CPU ticks (user + system) of every thread of the given processes, by "pid/tid". */
export function threadTicks(pids: number[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const pid of pids) {
    let tids: string[] = []
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`)
    } catch {
      continue
    }
    for (const tid of tids) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
        // fields after the command name (which may contain spaces), 1-based: utime 14, stime 15
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        out.set(`${pid}/${tid}`, Number(f[11]) + Number(f[12]))
      } catch {
        // the thread ended between readdir and read
      }
    }
  }
  return out
}

/** The thread that used the most CPU ticks between two samples, and how many. */
export function busiestThread(before: Map<string, number>, after: Map<string, number>): { id: string; ticks: number } {
  let best = { id: '', ticks: 0 }
  for (const [id, t] of after) {
    const d = t - (before.get(id) ?? t)
    if (d > best.ticks) best = { id, ticks: d }
  }
  return best
}

/** CPU ticks one thread used between two samples (0 when it is gone). */
export function ticksOf(id: string, before: Map<string, number>, after: Map<string, number>): number {
  const a = after.get(id)
  const b = before.get(id)
  return a === undefined || b === undefined ? 0 : a - b
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
