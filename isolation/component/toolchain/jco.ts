// Runs one job in the jco helper process (jco-main.ts) and returns its answer. jco is loaded only
// there, only when a component is uploaded or deployed.
import { spawn } from 'node:child_process'
import { siblingModule } from '../../entry.js'
import { TRANSPILER_PACKAGE } from './package.js'

export { TRANSPILER_PACKAGE, transpilerVersion } from './package.js'

/** The transpiler failed on the input (or is not installed: `missing` is set). */
export class ToolchainError extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message)
    this.name = 'ToolchainError'
  }
}

export interface InspectAnswer {
  wit: string
}

export interface TranspileAnswer {
  files: string[]
  imports: string[]
  exports: string[]
}

export function runJco(job: { op: 'inspect' }, input: Uint8Array, timeoutMs?: number): Promise<InspectAnswer>
export function runJco(job: { op: 'transpile'; outDir: string; options: Record<string, unknown> }, input: Uint8Array, timeoutMs?: number): Promise<TranspileAnswer>
export function runJco(job: Record<string, unknown>, input: Uint8Array, timeoutMs = 300_000): Promise<unknown> {
  const entry = siblingModule(import.meta.url, 'jco-main')
  const child = spawn(process.execPath, [...entry.execArgv, entry.path, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const errOut: Buffer[] = []
  child.stdout.on('data', (c: Buffer) => out.push(c))
  child.stderr.on('data', (c: Buffer) => errOut.push(c))
  child.stdin.on('error', () => {}) // the child may exit before reading everything
  child.stdin.end(input)
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const text = Buffer.concat(out).toString().trim()
      const stderr = Buffer.concat(errOut).toString().trim()
      let answer: { error?: string; code?: string } | undefined
      try {
        answer = JSON.parse(text.slice(text.lastIndexOf('\n') + 1))
      } catch {
        // no answer: the helper crashed or was killed
      }
      if (!answer) {
        const missing = /ERR_MODULE_NOT_FOUND|Cannot find package/.test(stderr) && stderr.includes(TRANSPILER_PACKAGE)
        const why = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ` (after ${timeoutMs / 1000} s)` : ''}` : `exited with code ${code}`
        return reject(new ToolchainError(missing ? `${TRANSPILER_PACKAGE} is not installed` : `the jco helper ${why}: ${stderr.split('\n').slice(-3).join(' ')}`, missing))
      }
      if (answer.error !== undefined) {
        const missing = answer.code === 'ERR_MODULE_NOT_FOUND'
        return reject(new ToolchainError(missing ? `${TRANSPILER_PACKAGE} is not installed` : answer.error, missing))
      }
      resolve(answer)
    })
  })
}
