// The OpenFaaS FunctionDeployment as kindling accepts it, the settings kindling derives from its
// labels and env, and the FunctionStatus it answers with (field rules: openfaas-api.md 1.3-1.4).
import { KindlingError } from './errors.js'
import { validateName, validateNamespace } from './names.js'
import { parseCpuQuantity, parseDurationMs, parseMemoryQuantity } from './quantities.js'
import { type RetryPolicy, retryOverrides } from './async/retry.js'
import { TIER_NAMES, type ResetMode, type StateMode, type TierName } from '../isolation/tier.js'
import { triggersOf } from './triggers/spec.js' // triggers (issue 13, item 4)
import { kvStoresOf, variableNamesOf } from '../isolation/wasm/host/kv-plan.js'
import { OUTBOUND_ANNOTATION, OutboundPatternError, parseOutbound } from '../isolation/wasm/host/outbound-grants.js'

/** A deployment as stored: what the user sent, validated, with the namespace filled in. */
export interface Deployment {
  service: string
  image: string
  namespace: string
  envProcess?: string
  envVars?: Record<string, string>
  constraints?: string[]
  secrets?: string[]
  labels?: Record<string, string>
  annotations?: Record<string, string>
  limits?: Record<string, string>
  requests?: Record<string, string>
  readOnlyRootFilesystem?: boolean
}

export interface ScaleSettings {
  min: number
  max: number
  zero: boolean
  zeroDurationMs: number
  /** load per replica the autoscaler aims for; undefined = CE alert rule (5 rps) */
  target: number | undefined
  targetProportion: number
  type: 'rps' | 'capacity' | 'cpu' | 'queue'
  /** CE: percentage of max added per firing */
  factor: number
  /** scale-down uses the highest recommendation seen this long (com.openfaas.scale.down.window) */
  downWindowMs: number
}

/** What kindling reads from a deployment's labels and env. */
export interface FunctionSettings {
  tier: TierName
  app: string
  stateMode: StateMode
  resetMode: ResetMode
  prewarm: boolean
  timeoutMs: number
  memoryBytes: number
  cpuCores: number
  queueDepth: number
  scale: ScaleSettings
  /** async retry settings from com.openfaas.retry.* annotations (the rest from the config) */
  retry: Partial<RetryPolicy>
  /** outbound HTTP grants, normalised (com.kindling.outbound; empty: none) */
  outbound: string[]
}

export const LABEL = {
  isolation: 'com.kindling.isolation',
  app: 'com.kindling.app',
  state: 'com.kindling.state',
  reset: 'com.kindling.reset',
  prewarm: 'com.kindling.prewarm',
  timeout: 'com.kindling.timeout',
  queueDepth: 'com.kindling.queue-depth',
  scaleMin: 'com.openfaas.scale.min',
  scaleMax: 'com.openfaas.scale.max',
  scaleZero: 'com.openfaas.scale.zero',
  scaleZeroDuration: 'com.openfaas.scale.zero-duration',
  scaleTarget: 'com.openfaas.scale.target',
  scaleTargetProportion: 'com.openfaas.scale.target-proportion',
  scaleType: 'com.openfaas.scale.type',
  scaleFactor: 'com.openfaas.scale.factor',
  scaleDownWindow: 'com.openfaas.scale.down.window',
} as const

export interface SpecDefaults {
  namespaces: readonly string[]
  defaultNamespace: string
  execTimeoutMs: number
  memoryMiB: number
  maxReplicas: number
  /** no function may ask for more replicas than this (KINDLING_MAX_REPLICAS_CAP; none when unset) */
  maxReplicasCap?: number
  queueDepth: number
}

function fail(code: Parameters<typeof badField>[0], msg: string): never {
  throw badField(code, msg)
}
function badField(code: 'KINDLING_ERR_MISSING_FIELD' | 'KINDLING_ERR_INVALID_FIELD' | 'KINDLING_ERR_INVALID_LABEL' | 'KINDLING_ERR_INVALID_LIMIT', msg: string): KindlingError {
  return new KindlingError(code, msg)
}

function stringMap(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'object' || Array.isArray(v)) fail('KINDLING_ERR_INVALID_FIELD', `${field} must be an object of strings`)
  const out: Record<string, string> = {}
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'string') fail('KINDLING_ERR_INVALID_FIELD', `${field}.${k} must be a string`)
    out[k] = val
  }
  return out
}

function stringList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail('KINDLING_ERR_INVALID_FIELD', `${field} must be a list of strings`)
  return v as string[]
}

/** Validates a POST/PUT /system/functions body. Unknown and deprecated fields are ignored. */
export function parseDeployment(body: unknown, d: SpecDefaults): Deployment {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail('KINDLING_ERR_INVALID_FIELD', 'the body must be a JSON object (a FunctionDeployment)')
  const b = body as Record<string, unknown>
  if (b.service === undefined || b.service === '') fail('KINDLING_ERR_MISSING_FIELD', 'service is required')
  const service = validateName(b.service)
  if (typeof b.image !== 'string' || b.image.trim() === '') fail('KINDLING_ERR_MISSING_FIELD', 'image is required')
  const namespace = b.namespace === undefined || b.namespace === '' ? d.defaultNamespace : validateNamespace(b.namespace, d.namespaces)
  if (b.envProcess !== undefined && b.envProcess !== null && typeof b.envProcess !== 'string') fail('KINDLING_ERR_INVALID_FIELD', 'envProcess must be a string')
  if (b.readOnlyRootFilesystem !== undefined && typeof b.readOnlyRootFilesystem !== 'boolean') fail('KINDLING_ERR_INVALID_FIELD', 'readOnlyRootFilesystem must be a boolean')
  const dep: Deployment = { service, image: b.image, namespace }
  if (typeof b.envProcess === 'string' && b.envProcess !== '') dep.envProcess = b.envProcess
  const envVars = stringMap(b.envVars, 'envVars')
  if (envVars && Object.keys(envVars).length) dep.envVars = envVars
  const constraints = stringList(b.constraints, 'constraints')
  if (constraints?.length) dep.constraints = constraints
  const secrets = stringList(b.secrets, 'secrets')
  if (secrets?.length) dep.secrets = secrets.map((s) => validateName(s, 'secret name'))
  const labels = stringMap(b.labels, 'labels')
  if (labels) dep.labels = labels
  const annotations = stringMap(b.annotations, 'annotations')
  if (annotations) dep.annotations = annotations
  const limits = stringMap(b.limits, 'limits')
  if (limits && Object.values(limits).some((v) => v !== '')) dep.limits = limits
  const requests = stringMap(b.requests, 'requests')
  if (requests && Object.values(requests).some((v) => v !== '')) dep.requests = requests
  if (typeof b.readOnlyRootFilesystem === 'boolean') dep.readOnlyRootFilesystem = b.readOnlyRootFilesystem
  settingsOf(dep, d) // validates labels and limits now, so a bad one is a 400 at deploy
  triggersOf(dep.annotations) // triggers (issue 13, item 4): a bad schedule or topic is a 400 at deploy
  return dep
}

function intLabel(labels: Record<string, string>, key: string, def: number, min: number): number {
  const v = labels[key]
  if (v === undefined || v === '') return def
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) fail('KINDLING_ERR_INVALID_LABEL', `${key}=${JSON.stringify(v)} must be an integer of at least ${min}`)
  return Number(v)
}

function boolLabel(labels: Record<string, string>, key: string, def: boolean): boolean {
  const v = labels[key]
  if (v === undefined || v === '') return def
  if (/^(true|1|yes)$/i.test(v)) return true
  if (/^(false|0|no)$/i.test(v)) return false
  fail('KINDLING_ERR_INVALID_LABEL', `${key}=${JSON.stringify(v)} must be true or false`)
}

function durationMs(v: string, what: string): number {
  const ms = parseDurationMs(v)
  if (ms === undefined || ms < 0) fail('KINDLING_ERR_INVALID_LABEL', `${what}=${JSON.stringify(v)} is not a duration (for example 30s, 1m30s or 500ms)`)
  return ms
}

export function isWasmImage(image: string): boolean {
  return image.startsWith('wasm:')
}

/**
 * Settings kindling reads from a deployment; throws 400s for labels it cannot use. Replica counts above the cap are refused,
 * or lowered to it with clampReplicas (deployments stored before the cap existed still load).
 */
export function settingsOf(dep: Deployment, d: SpecDefaults, opts: { clampReplicas?: boolean } = {}): FunctionSettings {
  const labels = dep.labels ?? {}
  const env = dep.envVars ?? {}
  const tierLabel = labels[LABEL.isolation]
  let tier: TierName
  if (tierLabel === undefined || tierLabel === '') tier = isWasmImage(dep.image) ? 'wasm' : 'container'
  else if ((TIER_NAMES as readonly string[]).includes(tierLabel)) tier = tierLabel as TierName
  else throw new KindlingError('KINDLING_ERR_UNKNOWN_TIER', `${LABEL.isolation}=${JSON.stringify(tierLabel)} is not a tier`)

  const state = labels[LABEL.state] ?? 'fresh'
  if (state !== 'fresh' && state !== 'reuse') fail('KINDLING_ERR_INVALID_LABEL', `${LABEL.state} must be fresh or reuse`)
  const reset = labels[LABEL.reset] ?? 'snapshot'
  if (reset !== 'snapshot' && reset !== 'reinstantiate') fail('KINDLING_ERR_INVALID_LABEL', `${LABEL.reset} must be snapshot or reinstantiate`)

  let timeoutMs = d.execTimeoutMs
  if (env.exec_timeout !== undefined && env.exec_timeout !== '') timeoutMs = durationMs(env.exec_timeout, 'envVars.exec_timeout')
  if (labels[LABEL.timeout] !== undefined) timeoutMs = durationMs(labels[LABEL.timeout]!, LABEL.timeout)
  if (timeoutMs <= 0) timeoutMs = d.execTimeoutMs // exec_timeout=0 means "none" to the watchdog; kindling keeps its default

  let memoryBytes = d.memoryMiB * 1024 * 1024
  const mem = dep.limits?.memory
  if (mem) {
    const n = parseMemoryQuantity(mem)
    if (n === undefined || n < 65536) fail('KINDLING_ERR_INVALID_LIMIT', `limits.memory=${JSON.stringify(mem)} is not a memory quantity of at least 64Ki`)
    memoryBytes = n
  }
  let cpuCores = 0
  const cpu = dep.limits?.cpu
  if (cpu) {
    const n = parseCpuQuantity(cpu)
    if (n === undefined || n <= 0) fail('KINDLING_ERR_INVALID_LIMIT', `limits.cpu=${JSON.stringify(cpu)} is not a cpu quantity`)
    cpuCores = n
  }
  for (const [k, v] of Object.entries(dep.requests ?? {})) {
    if (v === '') continue
    if ((k === 'memory' && parseMemoryQuantity(v) === undefined) || (k === 'cpu' && parseCpuQuantity(v) === undefined)) {
      fail('KINDLING_ERR_INVALID_LIMIT', `requests.${k}=${JSON.stringify(v)} does not parse`)
    }
  }

  const cap = d.maxReplicasCap ?? Infinity
  const capped = (key: string, n: number) => {
    if (n <= cap) return n
    if (opts.clampReplicas) return cap
    throw new KindlingError('KINDLING_ERR_TOO_MANY_REPLICAS', `${key}=${labels[key]} is above the cap of ${cap} replicas`)
  }
  const min = capped(LABEL.scaleMin, intLabel(labels, LABEL.scaleMin, 1, 0))
  const max = capped(LABEL.scaleMax, intLabel(labels, LABEL.scaleMax, Math.min(cap, Math.max(d.maxReplicas, min)), 1))
  if (min > max) fail('KINDLING_ERR_INVALID_LABEL', `${LABEL.scaleMin}=${min} is above ${LABEL.scaleMax}=${max}`)
  const type = labels[LABEL.scaleType] ?? 'rps'
  if (!['rps', 'capacity', 'cpu', 'queue'].includes(type)) fail('KINDLING_ERR_INVALID_LABEL', `${LABEL.scaleType} must be rps, capacity, cpu or queue`)
  const proportion = labels[LABEL.scaleTargetProportion] === undefined ? 0.9 : Number(labels[LABEL.scaleTargetProportion])
  if (!(proportion > 0 && proportion <= 1)) fail('KINDLING_ERR_INVALID_LABEL', `${LABEL.scaleTargetProportion} must be in (0, 1]`)
  const factor = intLabel(labels, LABEL.scaleFactor, 20, 0)
  if (factor > 100) fail('KINDLING_ERR_INVALID_LABEL', `${LABEL.scaleFactor} must be between 0 and 100`)
  const scale: ScaleSettings = {
    min,
    max,
    zero: boolLabel(labels, LABEL.scaleZero, false),
    zeroDurationMs: labels[LABEL.scaleZeroDuration] ? durationMs(labels[LABEL.scaleZeroDuration]!, LABEL.scaleZeroDuration) : 15 * 60_000,
    target: labels[LABEL.scaleTarget] ? intLabel(labels, LABEL.scaleTarget, 50, 1) : undefined,
    targetProportion: proportion,
    type: type as ScaleSettings['type'],
    factor,
    downWindowMs: labels[LABEL.scaleDownWindow] ? durationMs(labels[LABEL.scaleDownWindow]!, LABEL.scaleDownWindow) : 0,
  }
  if (scale.downWindowMs > 5 * 60_000) fail('KINDLING_ERR_INVALID_LABEL', `${LABEL.scaleDownWindow} must be at most 5m`)
  const app = labels[LABEL.app] || dep.service
  if (labels[LABEL.app]) validateName(app, 'application name')
  // key-value state and variables (issue 13, items 2-3): a bad store or variable name is a 400 at deploy
  kvStoresOf(dep.annotations)
  variableNamesOf(dep.annotations)
  return {
    tier,
    app,
    stateMode: state,
    resetMode: reset,
    prewarm: boolLabel(labels, LABEL.prewarm, true),
    timeoutMs,
    memoryBytes,
    cpuCores,
    queueDepth: intLabel(labels, LABEL.queueDepth, d.queueDepth, 0),
    scale,
    retry: retryOverrides(dep.annotations ?? {}),
    outbound: outboundOf(dep.annotations ?? {}),
  }
}

/** outbound HTTP (issue 13 item 1): the allow-list of com.kindling.outbound, a 400 when a pattern is bad. */
function outboundOf(annotations: Record<string, string>): string[] {
  try {
    return parseOutbound(annotations[OUTBOUND_ANNOTATION]).map((p) => `${p.scheme}://${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port ?? '*'}`)
  } catch (e) {
    if (e instanceof OutboundPatternError) throw new KindlingError('KINDLING_ERR_INVALID_OUTBOUND', e.message)
    throw e
  }
}

export interface LiveStatus {
  replicas: number
  availableReplicas: number
  invocationCount: number
  createdAt: string
  /** kindling's own facts, reported as annotations */
  extra: Record<string, string>
}

/** FunctionStatus JSON with the certifier's field rules: maps always objects, empty fields omitted. */
export function functionStatus(dep: Deployment, live: LiveStatus): Record<string, unknown> {
  const out: Record<string, unknown> = { name: dep.service, image: dep.image, namespace: dep.namespace }
  if (dep.envProcess !== undefined) out.envProcess = dep.envProcess
  if (dep.envVars) out.envVars = dep.envVars
  if (dep.constraints) out.constraints = dep.constraints
  if (dep.secrets) out.secrets = dep.secrets
  out.labels = { ...(dep.labels ?? {}), faas_function: dep.service }
  out.annotations = { ...(dep.annotations ?? {}), ...live.extra }
  if (dep.limits) out.limits = dep.limits
  if (dep.requests) out.requests = dep.requests
  out.readOnlyRootFilesystem = dep.readOnlyRootFilesystem ?? true // what runs: the rootfs is read-only unless asked otherwise (pool/dispatcher.ts)
  out.invocationCount = live.invocationCount
  out.replicas = live.replicas
  out.availableReplicas = live.availableReplicas
  out.createdAt = live.createdAt
  return out
}
