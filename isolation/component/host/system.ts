// The rest of what a wasi:http component may import from WASI 0.2: cli (environment, exit, stdio,
// terminals), clocks and random (filesystem is filesystem.ts). stdout and stderr go to the
// function's logs.
import { randomBytes, randomFillSync } from 'node:crypto'
import type { OutputBuffer } from '../../wasm/wasi.js'
import { type CallClock, InputStream, OutputStream, Pollable, type Result } from './io.js'

export interface SystemCall extends CallClock {
  env: [string, string][]
  args: string[]
  /** stdout and stderr of the component, both */
  logs: OutputBuffer
}

/** Thrown by wasi:cli/exit to unwind the guest. */
export class ComponentExit extends Error {
  constructor(readonly code: number) {
    super(`the component exited with status ${code}`)
    this.name = 'ComponentExit'
  }
}

const EMPTY = new Uint8Array(0)
/** a single request for more random bytes than this traps: a guest asking for gigabytes is broken */
const MAX_RANDOM_BYTES = 1 << 20

function randomOf(len: bigint): Uint8Array {
  if (len > BigInt(MAX_RANDOM_BYTES)) throw new Error(`get-random-bytes of ${len} bytes (at most ${MAX_RANDOM_BYTES} at once)`)
  return randomBytes(Number(len))
}

function randomU64(): bigint {
  const b = new BigUint64Array(1)
  randomFillSync(b)
  return b[0]!
}

type Datetime = { seconds: bigint; nanoseconds: number }

class TerminalInput {}
class TerminalOutput {}

export function systemImports(call: () => SystemCall): Record<string, Record<string, unknown>> {
  return {
    'wasi:cli/environment': {
      getEnvironment: () => call().env,
      getArguments: () => call().args,
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit: (status: Result<undefined, undefined>) => {
        throw new ComponentExit(status.tag === 'ok' ? 0 : 1)
      },
      exitWithCode: (code: number) => {
        throw new ComponentExit(code)
      },
    },
    'wasi:cli/stdin': { getStdin: () => new InputStream(call(), EMPTY) },
    // stdio belongs to the instance, which may keep it between calls (reuse): it writes to the call in progress
    'wasi:cli/stdout': { getStdout: () => new OutputStream(call, () => call().logs) },
    'wasi:cli/stderr': { getStderr: () => new OutputStream(call, () => call().logs) },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:clocks/monotonic-clock': {
      now: () => process.hrtime.bigint(),
      resolution: () => 1n,
      subscribeInstant: (when: bigint) => new Pollable(call(), when > 0n ? when : 1n),
      subscribeDuration: (ns: bigint) => new Pollable(call(), process.hrtime.bigint() + ns),
    },
    'wasi:clocks/wall-clock': {
      now: (): Datetime => {
        const ms = Date.now()
        return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000 }
      },
      resolution: (): Datetime => ({ seconds: 0n, nanoseconds: 1_000_000 }),
    },
    'wasi:random/random': { getRandomBytes: randomOf, getRandomU64: randomU64 },
    'wasi:random/insecure': { getInsecureRandomBytes: randomOf, getInsecureRandomU64: randomU64 },
    'wasi:random/insecure-seed': { insecureSeed: () => [randomU64(), randomU64()] },
  }
}
