// On a fresh data dir, deploys the example functions from functions/dist so that a newcomer can
// curl one at once. Runs once per data dir: removing an example later does not bring it back.
import fs from 'node:fs'
import path from 'node:path'
import { type Db, getMeta, setMeta } from './registry/db.js'
import type { Registry } from './registry/registry.js'
import { REPO_ROOT } from './version.js'

export const EXAMPLES_APP = 'examples'

/** Examples answer anyone: a call gets seconds, not KINDLING_EXEC_TIMEOUT_MS (fib 90 would run for years). */
export const EXAMPLE_TIMEOUT = '5s'

/** name, module file under functions/ (dist/ unless a folder is given), what it shows, its timeout when not EXAMPLE_TIMEOUT */
export const EXAMPLES: { name: string; file: string; about: string; timeout?: string }[] = [
  { name: 'echo', file: 'echo.wasm', about: 'AssemblyScript: returns the body' },
  { name: 'fib', file: 'fib.wasm', about: 'AssemblyScript: the n-th Fibonacci number', timeout: '2s' },
  { name: 'reverse-bytes', file: 'reverse-bytes.wasm', about: 'AssemblyScript handleBytes: the body reversed' },
  { name: 'cat', file: 'cat.wasm', about: 'C/WASI: stdin to stdout' },
  { name: 'env', file: 'env.wasm', about: 'C/WASI: the environment a function sees' },
  { name: 'sha512sum', file: 'sha512sum.wasm', about: 'C/WASI: SHA-512 of the body' },
  { name: 'hello-cgi', file: 'hello-cgi.wasm', about: 'C/WASI: a CGI header block (Status, Content-Type)' },
  { name: 'set-headers', file: 'set-headers.wasm', about: 'C/WASI: response headers through kindling.response_header_set (body: "Name: value" lines)' },
  { name: 'chain', file: 'chain.wasm', about: 'AssemblyScript: calls another function of its application (kindling.call)' },
  { name: 'http-echo', file: '../component/http-echo.wasm', about: 'a wasi:http component (C, transpiled with jco at deploy)' },
]

export async function deployExamplesOnce(db: Db, registry: Registry, say: (m: string) => void): Promise<void> {
  if (getMeta(db, 'examples-deployed')) return
  const dist = path.join(REPO_ROOT, 'functions', 'dist')
  for (const ex of EXAMPLES) {
    const file = path.join(dist, ex.file)
    if (!fs.existsSync(file) || registry.list().some((v) => v.stored.deployment.service === ex.name)) continue
    try {
      const bytes = fs.readFileSync(file)
      const rec = await registry.uploadArtifact(bytes)
      await registry.deploy({ service: ex.name, image: `wasm:sha256:${rec.digest}`, labels: { 'com.kindling.app': EXAMPLES_APP, 'com.kindling.timeout': ex.timeout ?? EXAMPLE_TIMEOUT } }, 'create')
    } catch (e) {
      say(`could not deploy example ${ex.name}: ${(e as Error).message}`)
    }
  }
  setMeta(db, 'examples-deployed', new Date().toISOString())
}
