// Reads an OpenFaaS stack.yml (version 1.0, provider openfaas) into deploy plans. An `image` that
// names a local .wasm file (relative to the stack file) is uploaded; a wasm:sha256 reference is
// used as is; anything else is a container image.
import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { CliError } from './client.js'
import type { DeployPlan } from './commands.js'

interface StackFunction {
  image?: string
  fprocess?: string
  environment?: Record<string, unknown>
  environment_file?: string[]
  secrets?: string[]
  labels?: Record<string, unknown>
  annotations?: Record<string, unknown>
  limits?: Record<string, unknown>
  requests?: Record<string, unknown>
  namespace?: string
  readonly_root_filesystem?: boolean
}

function strings(m: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!m) return undefined
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]))
}

/** ${VAR} and ${VAR:-default} from the environment, as faas-cli's --envsubst does. */
function envsubst(text: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def: string | undefined) => process.env[name] ?? def ?? '')
}

export function loadStack(file: string, filter?: string): DeployPlan[] {
  if (!fs.existsSync(file)) throw new CliError(`${file} does not exist`)
  const dir = path.dirname(path.resolve(file))
  const doc = YAML.parse(envsubst(fs.readFileSync(file, 'utf8'))) as { version?: unknown; provider?: { name?: string }; functions?: Record<string, StackFunction> }
  if (String(doc?.version) !== '1.0' && doc?.version !== 1) throw new CliError(`${file}: version must be 1.0`)
  if (doc.provider?.name !== 'openfaas') throw new CliError(`${file}: provider.name must be openfaas`)
  const fns = Object.entries(doc.functions ?? {})
  if (!fns.length) throw new CliError(`${file} has no functions`)
  const pattern = filter ? new RegExp(`^${filter.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`) : undefined
  return fns
    .filter(([name]) => !pattern || pattern.test(name))
    .map(([service, f]) => {
      if (!f.image) throw new CliError(`${file}: function ${service} has no image`)
      let env = strings(f.environment) ?? {}
      for (const ef of f.environment_file ?? []) {
        const extra = YAML.parse(fs.readFileSync(path.resolve(dir, ef), 'utf8')) as { environment?: Record<string, unknown> }
        env = { ...env, ...strings(extra.environment) }
      }
      const body: Record<string, unknown> = {}
      if (Object.keys(env).length) body.envVars = env
      if (f.fprocess) body.envProcess = f.fprocess
      if (f.secrets) body.secrets = f.secrets
      if (f.labels) body.labels = strings(f.labels)
      if (f.annotations) body.annotations = strings(f.annotations)
      if (f.limits) body.limits = strings(f.limits)
      if (f.requests) body.requests = strings(f.requests)
      if (f.namespace) body.namespace = f.namespace
      if (f.readonly_root_filesystem !== undefined) body.readOnlyRootFilesystem = f.readonly_root_filesystem
      const local = f.image.endsWith('.wasm') ? path.resolve(dir, f.image) : undefined
      return { service, wasmFile: local, image: local ? undefined : f.image, body }
    })
}
