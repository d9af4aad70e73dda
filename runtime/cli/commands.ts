// The CLI commands that talk to a gateway: deploy, invoke, list, describe, remove, logs.
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { type ParsedArgs, flag, flagAll, keyValues } from './args.js'
import { CliError, expectOk, type GatewayClient } from './client.js'
import { loadStack } from './stack.js'

/** What `deploy` sends, before the artifact is uploaded. */
export interface DeployPlan {
  service: string
  /** a local .wasm file to upload first */
  wasmFile?: string
  image?: string
  body: Record<string, unknown>
  /** what to do when wasmFile is missing (a function kindling builds) */
  buildHint?: string
}

async function uploadWasm(client: GatewayClient, file: string, hint?: string): Promise<string> {
  if (!fs.existsSync(file)) throw new CliError(`${file} does not exist${hint ? `: ${hint}` : '; check the path'}`)
  const res = await expectOk(
    await client.request('POST', '/system/artifacts', { body: fs.readFileSync(file), headers: { 'content-type': 'application/wasm' } }),
    `uploading ${file}`,
  )
  return ((await res.json()) as { image: string }).image
}

/** PUT first and POST when the function does not exist yet, as faas-cli deploy does. */
export async function deployOne(client: GatewayClient, plan: DeployPlan): Promise<void> {
  const image = plan.wasmFile ? await uploadWasm(client, plan.wasmFile, plan.buildHint) : plan.image
  if (!image) throw new CliError(`${plan.service}: give a .wasm file or --image`)
  const body = JSON.stringify({ ...plan.body, service: plan.service, image })
  const headers = { 'content-type': 'application/json' }
  let res = await client.request('PUT', '/system/functions', { body, headers })
  if (res.status === 404) res = await client.request('POST', '/system/functions', { body, headers })
  await expectOk(res, `deploying ${plan.service}`)
  const ns = plan.body.namespace ? `.${String(plan.body.namespace)}` : ''
  process.stdout.write(`Deployed ${plan.service} (${image}). Call it: kindling invoke ${plan.service}${ns} --data hello, or curl -d hello ${client.url}/function/${plan.service}${ns}\n`)
}

function planFromFlags(args: ParsedArgs): DeployPlan {
  const file = args.positionals[0]
  const image = flag(args, 'image')
  if (!file && !image) throw new CliError('usage: kindling deploy <file.wasm> --name NAME [--label k=v] [--env k=v] | --image IMAGE --name NAME | -f stack.yml')
  const service = flag(args, 'name') ?? (file ? path.basename(file).replace(/\.wasm$/, '') : undefined)
  if (!service) throw new CliError('--name is required with --image')
  const labels = keyValues(args, 'label')
  if (flag(args, 'isolation')) labels['com.kindling.isolation'] = flag(args, 'isolation')!
  if (flag(args, 'app')) labels['com.kindling.app'] = flag(args, 'app')!
  const body: Record<string, unknown> = { labels }
  const env = keyValues(args, 'env')
  if (Object.keys(env).length) body.envVars = env
  if (flag(args, 'namespace')) body.namespace = flag(args, 'namespace')
  if (flag(args, 'fprocess')) body.envProcess = flag(args, 'fprocess')
  if (flagAll(args, 'secret').length) body.secrets = flagAll(args, 'secret')
  const annotations = keyValues(args, 'annotation')
  if (Object.keys(annotations).length) body.annotations = annotations
  const limits: Record<string, string> = {}
  if (flag(args, 'memory')) limits.memory = flag(args, 'memory')!
  if (flag(args, 'cpu')) limits.cpu = flag(args, 'cpu')!
  if (Object.keys(limits).length) body.limits = limits
  return { service, wasmFile: file, image, body }
}

/** -f FILE; else ./stack.yml when the command names nothing else, as faas-cli does */
function stackFileOf(args: ParsedArgs, namesSomething: boolean): string | undefined {
  return flag(args, 'file') ?? (!namesSomething && fs.existsSync('stack.yml') ? 'stack.yml' : undefined)
}

export async function deployCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const stackFile = stackFileOf(args, args.positionals.length > 0 || flag(args, 'image') !== undefined)
  const plans = stackFile ? loadStack(stackFile, flag(args, 'filter')) : [planFromFlags(args)]
  for (const p of plans) await deployOne(client, p)
  return 0
}

/** stdin as a request body stream (nothing when it is a terminal) */
function stdinBody(): ReadableStream<Uint8Array> | undefined {
  if (process.stdin.isTTY) return undefined
  return Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>
}

/** Copies a response body to a stream as it arrives, so a long answer shows while it is made. */
async function pipeBody(res: Response, to: NodeJS.WriteStream): Promise<void> {
  if (!res.body) return
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (!to.write(chunk)) await new Promise((r) => to.once('drain', r))
  }
}

export async function invokeCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  if (!name) throw new CliError('usage: kindling invoke NAME [--data TEXT] [-H k=v] [--method M] [--query k=v] [--async] (the body is --data, else stdin)')
  const data = flag(args, 'data')
  const method = (flag(args, 'method') ?? 'POST').toUpperCase()
  const headers: Record<string, string> = { 'content-type': flag(args, 'content-type') ?? 'text/plain', ...keyValues(args, 'header') }
  const query = new URLSearchParams(keyValues(args, 'query')).toString()
  const ns = flag(args, 'namespace')
  const target = `/${flag(args, 'async') ? 'async-function' : 'function'}/${name}${ns ? `.${ns}` : ''}${query ? `?${query}` : ''}`
  const noBody = method === 'GET' || method === 'HEAD'
  // the request body streams from stdin and the answer streams to stdout, as they come
  const body = noBody ? undefined : data !== undefined ? Buffer.from(data) : stdinBody()
  const res = await client.request(method, target, { body, headers, auth: false })
  if (res.status === 202 && flag(args, 'async')) {
    process.stdout.write(`Function submitted asynchronously (call id ${res.headers.get('x-call-id')}).\n`)
    return 0
  }
  if (res.ok) {
    await pipeBody(res, process.stdout)
    return 0
  }
  await pipeBody(res, process.stderr)
  const code = res.headers.get('x-kindling-error')
  process.stderr.write(`\nkindling: the call answered HTTP ${res.status}${code ? ` (${code})` : ''}${nextStepForCall(res.status, name)}\n`)
  return 1
}

/** What to try after a failed call. */
function nextStepForCall(status: number, name: string): string {
  if (status === 404) return `. "kindling list" shows what is deployed; deploy ${name} with "kindling deploy" or "kindling up".`
  if (status >= 500) return `. "kindling logs ${name}" shows what the function printed.`
  return ''
}

interface Status {
  name: string
  image: string
  namespace: string
  envProcess?: string
  envVars?: Record<string, string>
  secrets?: string[]
  labels?: Record<string, string>
  invocationCount?: number
  replicas?: number
  availableReplicas?: number
  annotations?: Record<string, string>
  limits?: Record<string, string>
  requests?: Record<string, string>
  readOnlyRootFilesystem?: boolean
  createdAt?: string
}

function nsQuery(args: ParsedArgs): string {
  const ns = flag(args, 'namespace')
  return ns ? `?namespace=${encodeURIComponent(ns)}` : ''
}

export async function listCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const res = await expectOk(await client.request('GET', `/system/functions${nsQuery(args)}`), 'listing functions')
  const fns = (await res.json()) as Status[]
  if (flag(args, 'json')) {
    process.stdout.write(JSON.stringify(fns, null, 2) + '\n')
    return 0
  }
  const rows = fns.map((f) => [f.name, String(f.invocationCount ?? 0), `${f.availableReplicas ?? 0}/${f.replicas ?? 0}`, f.annotations?.['com.kindling.tier'] ?? '', f.image])
  printTable(['Function', 'Invocations', 'Replicas', 'Tier', 'Image'], rows)
  if (!fns.length) process.stdout.write('(no functions yet: deploy one with "kindling deploy FILE.wasm" or "kindling new NAME --lang c" then "kindling up")\n')
  return 0
}

export async function describeCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  if (!name) throw new CliError('usage: kindling describe NAME [--json]')
  const res = await client.request('GET', `/system/function/${encodeURIComponent(name)}${nsQuery(args)}`)
  if (res.status === 404) throw new CliError(`no function ${name} is deployed${flag(args, 'namespace') ? ` in namespace ${flag(args, 'namespace')}` : ''}; "kindling list" shows what is`)
  const f = (await (await expectOk(res, `describing ${name}`)).json()) as Status
  if (flag(args, 'json')) {
    process.stdout.write(JSON.stringify(f, null, 2) + '\n')
    return 0
  }
  process.stdout.write(describeText(f, client.url))
  return 0
}

/** The readable summary, laid out as faas-cli describe does: one "Field: value" a line. */
export function describeText(f: Status, gatewayUrl: string): string {
  const a = f.annotations ?? {}
  const kindling = (k: string) => a[`com.kindling.${k}`]
  const own = (m: Record<string, string> | undefined, skip: (k: string) => boolean = () => false) =>
    Object.entries(m ?? {})
      .filter(([k]) => !skip(k))
      .map(([k, v]) => `${k}=${v}`)
  const rows: [string, string | undefined][] = [
    ['Name', f.name],
    ['Namespace', f.namespace],
    ['Status', (f.availableReplicas ?? 0) > 0 ? 'Ready' : (f.replicas ?? 0) > 0 ? 'Starting' : 'Scaled to zero'],
    ['Replicas', String(f.replicas ?? 0)],
    ['Available Replicas', String(f.availableReplicas ?? 0)],
    ['Invocations', String(f.invocationCount ?? 0)],
    ['Image', f.image],
    ['Tier', kindling('tier')],
    ['App', kindling('app')],
    ['Sandboxes', kindling('sandboxes.warm') === undefined ? undefined : `${kindling('sandboxes.warm')} warm (${kindling('sandboxes.idle')} idle, ${kindling('sandboxes.busy')} busy), ${kindling('sandboxes.starting')} starting`],
    ['Error', kindling('error')],
    ['Function Process', f.envProcess],
    ['URL', `${gatewayUrl}/function/${f.name}${f.namespace && f.namespace !== 'openfaas-fn' ? `.${f.namespace}` : ''}`],
    ['Async URL', `${gatewayUrl}/async-function/${f.name}${f.namespace && f.namespace !== 'openfaas-fn' ? `.${f.namespace}` : ''}`],
    ['Labels', own(f.labels).join(', ')],
    ['Annotations', own(a, (k) => k.startsWith('com.kindling.tier') || k.startsWith('com.kindling.app') || k.startsWith('com.kindling.sandboxes.') || k === 'com.kindling.error').join(', ')],
    ['Environment', own(f.envVars).join(', ')],
    ['Secrets', (f.secrets ?? []).join(', ')],
    ['Limits', own(f.limits).join(', ')],
    ['Requests', own(f.requests).join(', ')],
    ['Read-only Root', f.readOnlyRootFilesystem === undefined ? undefined : String(f.readOnlyRootFilesystem)],
    ['Created', f.createdAt],
  ]
  const shown = rows.filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '')
  const width = Math.max(...shown.map(([k]) => k.length)) + 1
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join('')
}

export async function removeCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  const stackFile = stackFileOf(args, name !== undefined)
  if (!name && !stackFile) throw new CliError('usage: kindling remove NAME | -f stack.yml [--filter GLOB] (every function of the stack)')
  const targets = name ? [{ name, namespace: flag(args, 'namespace') }] : loadStack(stackFile!, flag(args, 'filter')).map((p) => ({ name: p.service, namespace: p.body.namespace as string | undefined }))
  for (const t of targets) {
    const body = JSON.stringify({ functionName: t.name, namespace: t.namespace })
    const res = await client.request('DELETE', '/system/functions', { body, headers: { 'content-type': 'application/json' } })
    if (res.status === 404) {
      // removing a whole stack skips what is not deployed, as faas-cli does
      if (name) throw new CliError(`no function ${name} is deployed; "kindling list" shows what is`)
      process.stdout.write(`${t.name} is not deployed.\n`)
      continue
    }
    await expectOk(res, `removing ${t.name}`)
    process.stdout.write(`Removed ${t.name}.\n`)
  }
  return 0
}

export async function logsCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  if (!name) throw new CliError('usage: kindling logs NAME [--tail N] [-f|--follow] [--since RFC3339]')
  const q = new URLSearchParams({ name })
  if (flag(args, 'namespace')) q.set('namespace', flag(args, 'namespace')!)
  if (flag(args, 'tail')) q.set('tail', flag(args, 'tail')!)
  if (flag(args, 'since')) q.set('since', flag(args, 'since')!)
  if (flag(args, 'follow')) q.set('follow', 'true')
  const res = await client.request('GET', `/system/logs?${q}`)
  if (res.status === 404) throw new CliError(`no function ${name} is deployed; "kindling list" shows what is`)
  await expectOk(res, `reading logs of ${name}`)
  const decoder = new TextDecoder()
  let partial = ''
  const print = (l: string) => {
    if (!l) return
    const m = JSON.parse(l) as { timestamp: string; instance: string; text: string }
    process.stdout.write(`${m.timestamp} ${m.instance} ${m.text}\n`)
  }
  // with --follow the gateway keeps the response open and sends each line as it is logged
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n')
    partial = lines.pop() ?? ''
    lines.forEach(print)
  }
  print(partial)
  return 0
}

export function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n'
  process.stdout.write(line(head))
  for (const r of rows) process.stdout.write(line(r))
}
