// GET /system/usage?since=DURATION[&namespace=NS]: every function's usage (`kindling usage`), from
// the SQLite history plus what is not written yet. since is a duration back from now ("90m",
// "36h", "7d", "1d12h") or an RFC 3339 time; without it, all history kept.
import type { FastifyInstance } from 'fastify'
import { KindlingError } from '../errors.js'
import { validateNamespace } from '../names.js'
import { parseDurationMs } from '../quantities.js'
import { sendError } from '../gateway/reply.js'
import type { UsageMeter } from './meter.js'

/** A Date.now() time from a --since value; undefined when it does not parse. */
export function parseSince(since: string, now = Date.now()): number | undefined {
  const s = since.trim()
  if (/^\d{4}-\d{2}-\d{2}T/.test(s)) {
    const t = Date.parse(s)
    return Number.isNaN(t) ? undefined : t
  }
  // days first (Go durations stop at hours), then the rest as a Go duration
  const days = /^(\d+)d(.*)$/.exec(s)
  const rest = days ? days[2]! : s
  const restMs = rest === '' ? 0 : parseDurationMs(rest)
  if (restMs === undefined || (!days && rest === '')) return undefined
  return now - (days ? Number(days[1]) * 86_400_000 : 0) - restMs
}

export function registerUsageRoutes(app: FastifyInstance, opts: { usage: UsageMeter; namespaces: readonly string[] }): void {
  app.get<{ Querystring: { since?: string; namespace?: string } }>('/system/usage', async (req, reply) => {
    try {
      const { since, namespace } = req.query
      const ns = namespace ? validateNamespace(namespace, opts.namespaces) : undefined
      let from: number | undefined
      if (since !== undefined && since !== '') {
        from = parseSince(since)
        if (from === undefined) throw new KindlingError('KINDLING_ERR_INVALID_FIELD', `since ${JSON.stringify(since)} is not a duration (90m, 36h, 7d, 1d12h) or an RFC 3339 time`)
      }
      const functions = []
      for (const [key, t] of opts.usage.since(from)) {
        const dot = key.lastIndexOf('.')
        if (ns && key.slice(dot + 1) !== ns) continue
        functions.push({
          name: key.slice(0, dot), namespace: key.slice(dot + 1),
          invocations: t.invocations, wallSeconds: t.wallUs / 1e6, cpuSeconds: t.cpuUs / 1e6, cpuMeasuredInvocations: t.cpuCalls,
          gbSeconds: t.gibUs / 1e6, bytesIn: t.bytesIn, bytesOut: t.bytesOut,
        })
      }
      functions.sort((a, b) => (a.namespace + a.name < b.namespace + b.name ? -1 : 1))
      return reply.send({ since: from === undefined ? null : new Date(from).toISOString(), functions })
    } catch (e) {
      return sendError(reply, e)
    }
  })
}
