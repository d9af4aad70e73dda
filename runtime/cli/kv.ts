// `kindling kv ...`: the operator's view of the key-value stores functions keep, over /system/kv.
//   kv stores [--namespace NS] [--json]               stores with their size and live keys
//   kv keys APP STORE [--prefix P] [--limit N] [--cursor C]
//   kv get APP STORE KEY                              the value, raw, on stdout
//   kv put APP STORE KEY [--data TEXT] [--ttl-ms N]   the value is --data, else stdin
//   kv delete APP STORE [KEY]                         one key, or every key of the store
import { flag, type ParsedArgs } from './args.js'
import { CliError, expectOk, type GatewayClient } from './client.js'

export const KV_USAGE = 'usage: kindling kv stores | keys APP STORE [--prefix P] [--limit N] [--cursor C] | get APP STORE KEY | put APP STORE KEY [--data TEXT] [--ttl-ms N] | delete APP STORE [KEY]'

const seg = encodeURIComponent

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

export async function kvCommand(client: GatewayClient, args: ParsedArgs): Promise<number> {
  const [sub, app, store, key] = args.positionals
  const q = new URLSearchParams()
  const ns = flag(args, 'namespace')
  if (ns) q.set('namespace', ns)
  const route = (p: string, extra: Record<string, string | undefined> = {}) => {
    const params = new URLSearchParams(q)
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) params.set(k, v)
    return `/system/kv/${p}${params.size ? `?${params}` : ''}`
  }
  const need = (n: number) => {
    if ([app, store, key].slice(0, n).some((x) => !x)) throw new CliError(KV_USAGE)
  }
  const storePath = () => `stores/${seg(app!)}/${seg(store!)}`
  switch (sub) {
    case 'stores': {
      const res = await expectOk(await client.request('GET', route('stores')), 'listing stores')
      const stores = (await res.json()) as { app: string; store: string; bytes: number; keys: number }[]
      if (flag(args, 'json')) process.stdout.write(JSON.stringify(stores, null, 2) + '\n')
      else process.stdout.write(table(['APP', 'STORE', 'KEYS', 'BYTES'], stores.map((s) => [s.app, s.store, String(s.keys), String(s.bytes)])) + (stores.length ? '' : '(no stores)\n'))
      return 0
    }
    case 'keys': {
      need(2)
      const res = await expectOk(await client.request('GET', route(`${storePath()}/keys`, { prefix: flag(args, 'prefix'), limit: flag(args, 'limit'), cursor: flag(args, 'cursor') })), 'listing keys')
      const body = (await res.json()) as { keys: string[]; cursor: string | null }
      if (flag(args, 'json')) process.stdout.write(JSON.stringify(body, null, 2) + '\n')
      else {
        for (const k of body.keys) process.stdout.write(`${k}\n`)
        if (body.cursor !== null) process.stderr.write(`(more: --cursor ${JSON.stringify(body.cursor)})\n`)
      }
      return 0
    }
    case 'get': {
      need(3)
      const res = await expectOk(await client.request('GET', route(`${storePath()}/keys/${seg(key!)}`)), `reading ${key}`)
      process.stdout.write(Buffer.from(await res.arrayBuffer()))
      return 0
    }
    case 'put': {
      need(3)
      const data = flag(args, 'data')
      const body = data !== undefined ? Buffer.from(data) : await readStdin()
      await expectOk(await client.request('PUT', route(`${storePath()}/keys/${seg(key!)}`, { ttlMs: flag(args, 'ttl-ms') }), { body, headers: { 'content-type': 'application/octet-stream' } }), `writing ${key}`)
      return 0
    }
    case 'delete':
    case 'rm': {
      need(2)
      const p = key ? `${storePath()}/keys/${seg(key)}` : storePath()
      await expectOk(await client.request('DELETE', route(p)), key ? `deleting ${key}` : `emptying ${store}`)
      return 0
    }
  }
  throw new CliError(KV_USAGE)
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n').join('')
}
