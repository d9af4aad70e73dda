// Starts the Node floor (node-echo-main.ts, a bare node:http echo) in its own process: the peers
// scope loads it with autocannon, the coldstart scope times it with its own HTTP client.
import { fork } from 'node:child_process'
import { siblingModule } from '../../isolation/index.js'
import { track } from './children.js'
import type { RawServer } from './load.js'

export function startNodeEcho(): Promise<RawServer> {
  const entry = siblingModule(import.meta.url, 'node-echo-main')
  const child = track(fork(entry.path, [], { execArgv: entry.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the node:http echo exited with ${code}`)))
    child.once('message', (m: { url: string }) =>
      resolve({
        url: new URL(m.url),
        pid: child.pid!,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return
          const gone = new Promise((r) => child.once('exit', r))
          child.kill('SIGTERM')
          await gone
        },
      }),
    )
  })
}
