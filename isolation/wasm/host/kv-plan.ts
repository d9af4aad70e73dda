// What a function is granted of key-value state and variables, read from its annotations when the
// function is prepared: com.kindling.kv names stores of its application, com.kindling.variables
// names variables it may read. Nothing is granted by default.
import path from 'node:path'
import { KindlingError } from '../../errors.js'
import type { FunctionArtifact, TierContext } from '../../tier.js'
import { KV_STORE_NAME } from './kv-backend.js'
import type { KvPlan } from './kv-imports.js'

export const KV_ANNOTATION = 'com.kindling.kv'
export const VARIABLES_ANNOTATION = 'com.kindling.variables'
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/

function names(value: string | undefined): string[] {
  return [...new Set((value ?? '').split(',').map((s) => s.trim()).filter(Boolean))]
}

/** The stores com.kindling.kv grants; a bad name is a 400 at deploy. */
export function kvStoresOf(annotations: Record<string, string> | undefined): string[] {
  const stores = names(annotations?.[KV_ANNOTATION])
  const bad = stores.find((s) => !KV_STORE_NAME.test(s))
  if (bad !== undefined) throw new KindlingError('KINDLING_ERR_INVALID_LABEL', `${KV_ANNOTATION}: ${JSON.stringify(bad)} is not a store name (lower-case letters, digits, "-" and "_", at most 63)`)
  return stores
}

/** The variables com.kindling.variables grants; a bad name is a 400 at deploy. */
export function variableNamesOf(annotations: Record<string, string> | undefined): string[] {
  const vars = names(annotations?.[VARIABLES_ANNOTATION])
  const bad = vars.find((s) => !VARIABLE_NAME.test(s))
  if (bad !== undefined) throw new KindlingError('KINDLING_ERR_INVALID_LABEL', `${VARIABLES_ANNOTATION}: ${JSON.stringify(bad)} is not a variable name (letters, digits, "_" and "-", starting with a letter or "_")`)
  return vars
}

export function kvPlanFor(artifact: FunctionArtifact, ctx: TierContext): KvPlan | undefined {
  const stores = kvStoresOf(artifact.annotations)
  if (!stores.length) return undefined
  const s = ctx.settings
  return {
    dir: path.join(ctx.dataDir, 'kv'),
    namespace: artifact.namespace,
    app: artifact.app,
    stores,
    limits: { maxKeyBytes: s.kvMaxKeyBytes, maxValueBytes: s.kvMaxValueBytes, maxStoreBytes: s.kvMaxStoreBytes },
    // a cluster node keeps the stores in JetStream KV, so that every worker sees one state
    cluster: s.natsUrl ? { natsUrl: s.natsUrl, timeoutMs: s.kvClusterTimeoutMs ?? 5_000 } : undefined,
  }
}

/**
 * The granted variables with their values: the deployment's envVars first, then a secret of that
 * name the deployment lists, then the gateway's environment for names the operator allows
 * (KINDLING_VARIABLES_FROM_ENV); null when none has it (var_get answers NOT_FOUND).
 */
export function variablesFor(artifact: FunctionArtifact, ctx: TierContext): Record<string, string | null> | undefined {
  const granted = variableNamesOf(artifact.annotations)
  if (!granted.length) return undefined
  const out: Record<string, string | null> = {}
  for (const name of granted) {
    let value: string | undefined = artifact.envVars[name]
    if (value === undefined && artifact.secrets.includes(name)) value = ctx.readSecret(artifact.namespace, name)?.toString('utf8')
    if (value === undefined && Object.hasOwn(ctx.envVariables ?? {}, name)) value = ctx.envVariables![name]
    out[name] = value ?? null
  }
  return out
}
