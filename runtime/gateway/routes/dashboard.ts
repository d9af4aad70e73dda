// The web dashboard's static files at / and /ui/ (built by scripts/build-ui.mjs into dist/ui). The
// files are public and hold no data: the page asks the /system API for everything, with the basic
// auth credentials the operator types in. Assets have content-hashed names and are immutable; the
// index is revalidated every time, so a new build is picked up at once. Every file is read into
// memory at start and looked up by exact name, so no request path ever reaches the file system.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { KindlingError } from '../../errors.js'
import { sendError } from '../reply.js'

/** No inline script or style, nothing from elsewhere, never framed. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

interface StaticFile {
  body: Buffer
  type: string
  etag: string
}

function load(file: string): StaticFile {
  const body = fs.readFileSync(file)
  return { body, type: TYPES[path.extname(file)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
}

/** index.html and assets/<name> of a built dashboard, or undefined when there is none. */
export function loadDashboard(dir: string): { index: StaticFile; assets: Map<string, StaticFile> } | undefined {
  const indexFile = path.join(dir, 'index.html')
  if (!fs.existsSync(indexFile)) return undefined
  const assets = new Map<string, StaticFile>()
  const assetDir = path.join(dir, 'assets')
  if (fs.existsSync(assetDir)) {
    for (const e of fs.readdirSync(assetDir, { withFileTypes: true })) if (e.isFile() && TYPES[path.extname(e.name)]) assets.set(e.name, load(path.join(assetDir, e.name)))
  }
  return { index: load(indexFile), assets }
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    // a page that opens the dashboard (a function's HTML, say) gets no handle on its window
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin')
}

export function registerDashboardRoutes(app: FastifyInstance, opts: { dir: string }): void {
  const built = loadDashboard(opts.dir)
  const send = (reply: FastifyReply, f: StaticFile, cacheControl: string, ifNoneMatch: string | undefined) => {
    secure(reply).header('cache-control', cacheControl).header('etag', f.etag)
    if (ifNoneMatch === f.etag) return reply.code(304).send()
    return reply.type(f.type).send(f.body)
  }
  const index = async (req: { headers: Record<string, string | string[] | undefined> }, reply: FastifyReply) => {
    if (!built) return sendError(reply.header('cache-control', 'no-store'), new KindlingError('KINDLING_ERR_DASHBOARD_NOT_BUILT', `no dashboard in ${opts.dir}`))
    return send(reply, built.index, 'no-cache', req.headers['if-none-match'] as string | undefined)
  }
  app.get('/', index)
  app.get('/ui/', index)
  app.get('/ui', async (_req, reply) => reply.redirect('/ui/', 301))
  app.get<{ Params: { file: string } }>('/ui/assets/:file', async (req, reply) => {
    const f = built?.assets.get(req.params.file)
    if (!f) return sendError(reply.header('cache-control', 'no-store'), new KindlingError('KINDLING_ERR_ROUTE_NOT_FOUND', `GET ${req.url.split('?')[0]}`))
    return send(reply, f, 'public, max-age=31536000, immutable', req.headers['if-none-match'])
  })
}
