// GET /system/stats: what the dashboard draws, from the gateway's own metrics: per function the
// last two minutes of calls (rate, 5xx errors, p50/p99 per 2-second slot) and its recent cold
// starts split by phase. JSON, since the /metrics text has neither per-slot percentiles nor
// per-function cold starts.
import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../../metrics.js'
import { validateNamespace } from '../../names.js'
import { SLOT_MS } from '../../recent-latency.js'
import { sendError } from '../reply.js'

export function registerStatsRoutes(app: FastifyInstance, opts: { metrics: Metrics; namespaces: readonly string[]; defaultNamespace: string }): void {
  app.get<{ Querystring: { namespace?: string } }>('/system/stats', async (req, reply) => {
    let namespace: string
    try {
      namespace = req.query.namespace ? validateNamespace(req.query.namespace, opts.namespaces) : opts.defaultNamespace
    } catch (e) {
      return sendError(reply, e)
    }
    const functions = []
    for (const [key, m] of opts.metrics.functions()) {
      const dot = key.lastIndexOf('.')
      if (key.slice(dot + 1) !== namespace) continue
      const points = m.recent.series()
      functions.push({
        name: key.slice(0, dot),
        namespace,
        invocations: m.invocations,
        // columns rather than objects: a poll every 2 s stays small
        series: {
          start: points[0]!.t,
          slotMs: SLOT_MS,
          calls: points.map((p) => p.calls),
          errors: points.map((p) => p.errors),
          p50Ms: points.map((p) => p.p50Ms),
          p99Ms: points.map((p) => p.p99Ms),
        },
        coldStarts: m.recentColdStarts,
        prepare: m.lastPrepare ?? null,
      })
    }
    return reply.header('cache-control', 'no-store').send({ at: new Date().toISOString(), functions })
  })
}
