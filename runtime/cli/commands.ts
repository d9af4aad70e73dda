// The CLI commands that talk to a gateway: deploy, invoke, list, describe, remove, logs.
import fs from 'node:fs'
import path from 'node:path'
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
}

async function uploadWasm(client: GatewayClient, file: string): Promise<string> {
  if (!fs.existsSync(file)) throw new CliError(`${file} does not exist`)
  const res = await expectOk(
    await client.request('POST', '/system/artifacts', { body: fs.readFileSync(file), headers: { 'content-type': 'application/wasm' } }),
    `uploading ${file}`,
  )
  return ((await res.json()) as { image: string }).image
}

/** PUT first and POST when the function does not exist yet, as faas-cli deploy does. */
async function deployOne(client: GatewayClient, plan: DeployPlan): Promise<void> {
  const image = plan.wasmFile ? await uploadWasm(client, plan.wasmFile) : plan.image
  if (!image) throw new CliError(`${plan.service}: give a .wasm file or --image`)
  const body = JSON.stringify({ ...plan.body, service: plan.service, image })
  const headers = { 'content-type': 'application/json' }
  let res = await client.request('PUT', '/system/functions', { body, headers })
  if (res.status === 404) res = await client.request('POST', '/system/functions', { body, headers })
  await expectOk(res, `deploying ${plan.service}`)
  process.stdout.write(`Deployed ${plan.service} (${image}). Call it: curl -d 'hello' ${client.url}/function/${plan.service}\n`)
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

export async function deployCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const stackFile = flag(args, 'file')
  const plans = stackFile ? loadStack(stackFile, flag(args, 'filter')) : [planFromFlags(args)]
  for (const p of plans) await deployOne(client, p)
  return 0
}

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

export async function invokeCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  if (!name) throw new CliError('usage: kindling invoke NAME [--data TEXT] [-H k=v] [--method M] [--query k=v] [--async]')
  const data = flag(args, 'data')
  const body = data !== undefined ? Buffer.from(data) : await readStdin()
  const method = (flag(args, 'method') ?? 'POST').toUpperCase()
  const headers: Record<string, string> = { 'content-type': flag(args, 'content-type') ?? 'text/plain', ...keyValues(args, 'header') }
  const query = new URLSearchParams(keyValues(args, 'query')).toString()
  const ns = flag(args, 'namespace')
  const target = `/${flag(args, 'async') ? 'async-function' : 'function'}/${name}${ns ? `.${ns}` : ''}${query ? `?${query}` : ''}`
  const res = await client.request(method, target, { body: method === 'GET' || method === 'HEAD' ? undefined : body, headers, auth: false })
  if (res.status === 202 && flag(args, 'async')) {
    process.stdout.write(`Function submitted asynchronously (call id ${res.headers.get('x-call-id')}).\n`)
    return 0
  }
  const out = Buffer.from(await res.arrayBuffer())
  if (res.ok) {
    process.stdout.write(out)
    return 0
  }
  process.stderr.write(out)
  process.stderr.write(`\nkindling: the call answered HTTP ${res.status}${res.headers.get('x-kindling-error') ? ` (${res.headers.get('x-kindling-error')})` : ''}\n`)
  return 1
}

interface Status {
  name: string
  image: string
  namespace: string
  invocationCount?: number
  replicas?: number
  availableReplicas?: number
  annotations?: Record<string, string>
}

export async function listCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const ns = flag(args, 'namespace')
  const res = await expectOk(await client.request('GET', `/system/functions${ns ? `?namespace=${encodeURIComponent(ns)}` : ''}`), 'listing functions')
  const rows = ((await res.json()) as Status[]).map((f) => [f.name, String(f.invocationCount ?? 0), `${f.availableReplicas ?? 0}/${f.replicas ?? 0}`, f.annotations?.['com.kindling.tier'] ?? '', f.image])
  printTable(['Function', 'Invocations', 'Replicas', 'Tier', 'Image'], rows)
  return 0
}

export async function describeCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  if (!name) throw new CliError('usage: kindling describe NAME')
  const ns = flag(args, 'namespace')
  const res = await expectOk(await client.request('GET', `/system/function/${encodeURIComponent(name)}${ns ? `?namespace=${encodeURIComponent(ns)}` : ''}`), `describing ${name}`)
  process.stdout.write(JSON.stringify(await res.json(), null, 2) + '\n')
  return 0
}

export async function removeCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  if (!name) throw new CliError('usage: kindling remove NAME')
  const body = JSON.stringify({ functionName: name, namespace: flag(args, 'namespace') })
  await expectOk(await client.request('DELETE', '/system/functions', { body, headers: { 'content-type': 'application/json' } }), `removing ${name}`)
  process.stdout.write(`Removed ${name}.\n`)
  return 0
}

export async function logsCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  if (!name) throw new CliError('usage: kindling logs NAME [--tail N] [--follow]')
  const q = new URLSearchParams({ name })
  if (flag(args, 'namespace')) q.set('namespace', flag(args, 'namespace')!)
  if (flag(args, 'tail')) q.set('tail', flag(args, 'tail')!)
  if (flag(args, 'follow')) q.set('follow', 'true')
  const res = await expectOk(await client.request('GET', `/system/logs?${q}`), `reading logs of ${name}`)
  const decoder = new TextDecoder()
  let partial = ''
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n')
    partial = lines.pop() ?? ''
    for (const l of lines) {
      if (!l) continue
      const m = JSON.parse(l) as { timestamp: string; instance: string; text: string }
      process.stdout.write(`${m.timestamp} ${m.instance} ${m.text}\n`)
    }
  }
  return 0
}

export function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n'
  process.stdout.write(line(head))
  for (const r of rows) process.stdout.write(line(r))
}
