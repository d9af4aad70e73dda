// The CLI's connection to a gateway: URL and credentials found the way faas-cli finds them
// (--gateway, OPENFAAS_URL, http://127.0.0.1:8080; the data dir's basic-auth secret, or
// ~/.openfaas/config.yml), with a clear message when nothing answers.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'

export class CliError extends Error {}

export interface GatewayClient {
  url: string
  request(method: string, route: string, opts?: { body?: BodyInit | Buffer; headers?: Record<string, string>; auth?: boolean }): Promise<Response>
}

function credentialsFor(url: string, dataDir: string): string | undefined {
  const user = path.join(dataDir, 'secrets', 'basic-auth-user')
  const pass = path.join(dataDir, 'secrets', 'basic-auth-password')
  if (fs.existsSync(pass)) {
    const u = fs.existsSync(user) ? fs.readFileSync(user, 'utf8').trim() : 'admin'
    return Buffer.from(`${u}:${fs.readFileSync(pass, 'utf8').trim()}`).toString('base64')
  }
  const cfg = path.join(os.homedir(), '.openfaas', 'config.yml')
  if (fs.existsSync(cfg)) {
    try {
      const doc = YAML.parse(fs.readFileSync(cfg, 'utf8')) as { auths?: { gateway: string; auth: string; token: string }[] }
      const entry = doc.auths?.find((a) => a.gateway.replace(/\/$/, '') === url && a.auth === 'basic')
      if (entry) return entry.token
    } catch {}
  }
  return undefined
}

export function gatewayClient(url: string, dataDir: string): GatewayClient {
  const base = url.replace(/\/$/, '')
  const token = credentialsFor(base, dataDir)
  return {
    url: base,
    async request(method, route, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) }
      if (opts.auth !== false && token) headers.authorization = `Basic ${token}`
      try {
        // a streamed body (stdin) needs duplex: 'half' in Node's fetch
        const stream = opts.body instanceof ReadableStream
        return await fetch(base + route, { method, headers, body: opts.body as BodyInit | undefined, redirect: 'manual', ...(stream ? { duplex: 'half' } : {}) } as RequestInit)
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause
        throw new CliError(`cannot reach the kindling gateway at ${base} (${cause?.code ?? (e as Error).message}). Is it running? Start it with "kindling serve" (or "npm start"), or name the right one with --gateway URL or OPENFAAS_URL.`)
      }
    },
  }
}

/** Throws a CliError with the gateway's message when the status is not 2xx. */
export async function expectOk(res: Response, what: string): Promise<Response> {
  if (res.ok) return res
  const text = await res.text()
  let message = text.trim()
  try {
    const j = JSON.parse(text) as { code?: string; message?: string }
    if (j.code) message = `${j.code}: ${j.message}`
  } catch {}
  if (res.status === 401) message += ' (check <data dir>/secrets/basic-auth-password or --data-dir)'
  throw new CliError(`${what} failed with HTTP ${res.status}: ${message}`)
}
