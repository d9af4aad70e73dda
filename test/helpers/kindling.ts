// Starts a real kindling (SQLite file, app host processes) on a temporary data dir for a test,
// and removes everything again. Gateway tests use inject(); e2e tests call listen().
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Config, loadConfig } from '../../runtime/config.js'
import { createKindling, type Kindling } from '../../runtime/kindling.js'
import { REPO_ROOT } from '../../runtime/version.js'

export function tempDataDir(prefix = 'kindling-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export interface TestKindling extends Kindling {
  auth: Record<string, string>
  /** uploads a module from functions/dist (or raw bytes) and returns its image reference */
  upload(fileOrBytes: string | Uint8Array): Promise<string>
  /** uploads and deploys; returns the deployment status */
  deploy(name: string, fileOrBytes: string | Uint8Array, extra?: Record<string, unknown>): Promise<Record<string, unknown>>
  cleanup(): Promise<void>
}

export function exampleModule(name: string): string {
  return path.join(REPO_ROOT, 'functions', 'dist', name.endsWith('.wasm') ? name : `${name}.wasm`)
}

export async function startKindling(overrides: Partial<Config> = {}, opts: { dataDir?: string; keepDataDir?: boolean } = {}): Promise<TestKindling> {
  const dataDir = opts.dataDir ?? tempDataDir()
  const config = loadConfig({}, { dataDir, port: 0, deployExamples: false, spareAppHosts: 0, ...overrides })
  const k = (await createKindling(config)) as TestKindling
  const creds = k.credentials
  k.auth = creds ? { authorization: `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}` } : {}
  k.upload = async (fileOrBytes) => {
    const body = typeof fileOrBytes === 'string' ? fs.readFileSync(fileOrBytes) : Buffer.from(fileOrBytes)
    const res = await k.app.inject({ method: 'POST', url: '/system/artifacts', headers: { ...k.auth, 'content-type': 'application/wasm' }, payload: body })
    if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`)
    return (res.json() as { image: string }).image
  }
  k.deploy = async (name, fileOrBytes, extra = {}) => {
    const image = await k.upload(fileOrBytes)
    const res = await k.app.inject({ method: 'POST', url: '/system/functions', headers: k.auth, payload: { service: name, image, ...extra } })
    if (res.statusCode !== 202) throw new Error(`deploy failed: ${res.statusCode} ${res.body}`)
    return res.json() as Record<string, unknown>
  }
  k.cleanup = async () => {
    await k.close()
    if (!opts.keepDataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  }
  return k
}

/**
 * Waits until a function has a warm sandbox, so that a timed test measures the call and not the
 * start of an app host (which takes seconds on a loaded machine).
 */
export async function waitWarm(k: Kindling, name: string, namespace = 'openfaas-fn', timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const fn = k.dispatcher.get(name, namespace)
    if (fn?.pool && fn.pool.stats.idle > 0) return
    if (Date.now() > until) throw new Error(`${name} has no warm sandbox after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
