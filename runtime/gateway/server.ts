// Builds the fastify gateway: the OpenFaaS API surface, basic auth on /system/*, one error shape.
import Fastify, { type FastifyError, type FastifyInstance, type onRequestHookHandler } from 'fastify'
import { KindlingError } from '../errors.js'
import type { LogHub } from '../logs.js'
import type { Metrics } from '../metrics.js'
import type { Dispatcher, Invoker } from '../pool/dispatcher.js'
import type { Registry } from '../registry/registry.js'
import { checkBasicAuth, type Credentials } from './auth.js'
import { type ConnectionSettings, guardConnections, httpServerOptions } from './connections.js'
import type { InflightBytes } from './inflight.js'
import { answerClientError, answerFrameworkError } from './early-errors.js'
import { sendError } from './reply.js'
import { registerArtifactRoutes } from './routes/artifacts.js'
import { registerBenchRoutes } from './routes/bench.js'
import { registerDashboardRoutes } from './routes/dashboard.js'
import { registerPublicInfoRoutes, registerSystemInfoRoutes, type TierInfo } from './routes/info.js'
import { registerInvokeRoutes } from './routes/invoke.js'
import { registerLogRoutes } from './routes/logs.js'
import { registerSecretRoutes } from './routes/secrets.js'
import { registerStatsRoutes } from './routes/stats.js'
import { registerSystemFunctionRoutes } from './routes/system-functions.js'

export interface GatewayDeps {
  /** deployments, artifacts and secrets */
  registry: Registry
  /** runs calls and says what runs */
  dispatcher: Dispatcher
  /** where /function calls go: the dispatcher, or the cluster router (default: the dispatcher) */
  invoker?: Invoker
  logs: LogHub
  metrics: Metrics
  /** what /system/info says of each tier */
  tiers: readonly TierInfo[]
  namespaces: readonly string[]
  defaultNamespace: string
  credentials: Credentials | undefined
  /** runs before every route's own hooks, auth included (a cluster worker answers only /healthz and its internal routes) */
  guard?: onRequestHookHandler
  maxBodyBytes: number
  maxUploadBytes: number
  maxSecretBytes: number
  /** the bound on request body bytes held at once (shared with the async routes) */
  inflight: InflightBytes
  /** time limits and the connection limit against slow clients */
  connections: ConnectionSettings
  version: { release: string; sha: string }
  /** the built dashboard served at / and /ui/ (undefined: none, / stays a 404) */
  dashboardDir?: string
  /** where GET /system/bench reads the latest benchmark runs */
  benchResultsDir?: string
  /** routes added by other modules (async calls), registered inside the auth scope or outside it */
  extraRoutes?: { public?: (app: FastifyInstance) => void; system?: (app: FastifyInstance) => void }
}

function mapFastifyError(err: FastifyError, contentType: string | undefined): KindlingError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new KindlingError('KINDLING_ERR_PAYLOAD_TOO_LARGE', 'the body is larger than allowed')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new KindlingError('KINDLING_ERR_UNSUPPORTED_MEDIA_TYPE', `content type ${JSON.stringify(contentType ?? '(none)')} is not accepted here`)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new KindlingError('KINDLING_ERR_INVALID_JSON', 'the body is empty')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new KindlingError('KINDLING_ERR_BAD_REQUEST', 'Content-Length does not match the body')
  }
  // fastify's own message names the content type application/json, which the request may not have sent
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new KindlingError('KINDLING_ERR_INVALID_JSON', 'the body is not valid JSON')
  if (err instanceof SyntaxError) return new KindlingError('KINDLING_ERR_INVALID_JSON', `the body is not valid JSON: ${err.message}`)
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new KindlingError('KINDLING_ERR_BAD_REQUEST', err.message)
  return new KindlingError('KINDLING_ERR_INTERNAL', err.message)
}

export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.maxBodyBytes,
    return503OnClosing: true,
    keepAliveTimeout: deps.connections.keepAliveTimeoutMs,
    requestTimeout: httpServerOptions(deps.connections).requestTimeout,
    http: httpServerOptions(deps.connections),
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  })
  guardConnections(app.server, deps.connections)
  if (deps.guard) app.addHook('onRequest', deps.guard)

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const k = err instanceof KindlingError ? err : mapFastifyError(err, req.headers['content-type'])
    if (k.status >= 500) process.stderr.write(`kindling: ${err.stack ?? err.message}\n`)
    return sendError(reply, k)
  })
  app.setNotFoundHandler((req, reply) => sendError(reply, new KindlingError('KINDLING_ERR_ROUTE_NOT_FOUND', `${req.method} ${req.url.split('?')[0]}`)))

  registerInvokeRoutes(app, { invoker: deps.invoker ?? deps.dispatcher, defaultNamespace: deps.defaultNamespace, maxBodyBytes: deps.maxBodyBytes, servedBy: `kindling/${deps.version.release}`, inflight: deps.inflight, responseTimeoutMs: deps.connections.requestTimeoutMs })
  registerPublicInfoRoutes(app, { metrics: deps.metrics })
  if (deps.dashboardDir !== undefined) registerDashboardRoutes(app, { dir: deps.dashboardDir })
  deps.extraRoutes?.public?.(app)

  app.register(async (sys) => {
    // the OpenFaaS gateway reads these bodies as JSON whatever their Content-Type says (curl -d
    // sends form encoding); routes with other bodies (artifacts) set their own parsers
    sys.addContentTypeParser('*', { parseAs: 'string' }, sys.getDefaultJsonParser('error', 'error'))
    const creds = deps.credentials
    if (creds) {
      sys.addHook('onRequest', async (req, reply) => {
        if (!checkBasicAuth(req.headers.authorization, creds)) {
          reply.header('www-authenticate', 'Basic realm="Restricted"')
          return sendError(reply, new KindlingError('KINDLING_ERR_UNAUTHORIZED', 'invalid credentials'))
        }
      })
    }
    registerSystemInfoRoutes(sys, { metrics: deps.metrics, namespaces: deps.namespaces, tiers: deps.tiers, version: deps.version })
    registerSystemFunctionRoutes(sys, { registry: deps.registry, dispatcher: deps.dispatcher, namespaces: deps.namespaces, defaultNamespace: deps.defaultNamespace })
    registerArtifactRoutes(sys, { registry: deps.registry, maxUploadBytes: deps.maxUploadBytes })
    registerSecretRoutes(sys, { registry: deps.registry, maxSecretBytes: deps.maxSecretBytes, namespaces: deps.namespaces, defaultNamespace: deps.defaultNamespace })
    registerLogRoutes(sys, { logs: deps.logs, registry: deps.registry, namespaces: deps.namespaces, defaultNamespace: deps.defaultNamespace })
    registerStatsRoutes(sys, { metrics: deps.metrics, namespaces: deps.namespaces, defaultNamespace: deps.defaultNamespace })
    if (deps.benchResultsDir !== undefined) registerBenchRoutes(sys, { resultsDir: deps.benchResultsDir })
    deps.extraRoutes?.system?.(sys)
  })
  return app
}
