// Reads an OpenFaaS stack.yml (version 1.0, provider openfaas) into deploy plans. An `image` that
// names a local .wasm file (relative to the stack file) is uploaded; a wasm:sha256 reference is
// used as is; anything else is a container image. A function with `lang` and `handler` is one
// `kindling new` wrote: `kindling build` builds its handler folder into that .wasm.
import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { CliError } from './client.js'
import type { DeployPlan } from './commands.js'

export interface StackFunction {
  lang?: string
  handler?: string
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

export interface Stack {
  file: string
  /** the folder of the stack file: paths in it are relative to this */
  dir: string
  /** provider.gateway, when the file names one */
  gateway?: string
  functions: [string, StackFunction][]
}

function strings(m: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!m) return undefined
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]))
}

/** ${VAR} and ${VAR:-default} from the environment, as faas-cli's --envsubst does. */
function envsubst(text: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def: string | undefined) => process.env[name] ?? def ?? '')
}

function globMatcher(filter: string | undefined): (name: string) => boolean {
  if (!filter) return () => true
  const re = new RegExp(`^${filter.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
  return (name) => re.test(name)
}

/** Parses and checks a stack file; `filter` (a glob) keeps the matching functions. */
export function readStack(file: string, filter?: string): Stack {
  if (!fs.existsSync(file)) throw new CliError(`${file} does not exist. Give the stack file with -f FILE, or write one with "kindling new NAME --lang c|rust|assemblyscript|js".`)
  const dir = path.dirname(path.resolve(file))
  let doc: { version?: unknown; provider?: { name?: string; gateway?: string }; functions?: Record<string, StackFunction> }
  try {
    doc = YAML.parse(envsubst(fs.readFileSync(file, 'utf8')))
  } catch (e) {
    throw new CliError(`${file} is not valid YAML (${(e as Error).message.split('\n')[0]}); fix it and run the command again.`)
  }
  if (String(doc?.version) !== '1.0' && doc?.version !== 1) throw new CliError(`${file}: version must be 1.0 (add "version: 1.0" at the top)`)
  if (doc.provider?.name !== 'openfaas') throw new CliError(`${file}: provider.name must be openfaas (add "provider: {name: openfaas}")`)
  const all = Object.entries(doc.functions ?? {})
  if (!all.length) throw new CliError(`${file} has no functions; add one with "kindling new NAME --lang c -f ${file}".`)
  const match = globMatcher(filter)
  const functions = all.filter(([name]) => match(name)).map(([name, f]) => [name, f ?? {}] as [string, StackFunction])
  if (filter && !functions.length) throw new CliError(`${file}: no function matches "${filter}" (it has ${all.map(([n]) => n).join(', ')})`)
  return { file, dir, gateway: doc.provider?.gateway || undefined, functions }
}

/** The deploy plan of one stack function. */
export function planOf(stack: Stack, service: string, f: StackFunction): DeployPlan {
  if (!f.image) throw new CliError(`${stack.file}: function ${service} has no image; add "image: ./${service}.wasm" (or a container image)`)
  let env = strings(f.environment) ?? {}
  for (const ef of f.environment_file ?? []) {
    const extra = YAML.parse(fs.readFileSync(path.resolve(stack.dir, ef), 'utf8')) as { environment?: Record<string, unknown> }
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
  const local = f.image.endsWith('.wasm') ? path.resolve(stack.dir, f.image) : undefined
  const plan: DeployPlan = { service, wasmFile: local, image: local ? undefined : f.image, body }
  if (local && f.lang) plan.buildHint = `run "kindling build -f ${stack.file} ${service}" first (or "kindling up -f ${stack.file}", which builds and deploys)`
  return plan
}

export function loadStack(file: string, filter?: string): DeployPlan[] {
  const stack = readStack(file, filter)
  return stack.functions.map(([service, f]) => planOf(stack, service, f))
}
