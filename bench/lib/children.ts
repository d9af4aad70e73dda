// Every child process the benchmark starts, so that a benchmark stopped by a signal still ends
// them (app hosts stuck in a long GC, gateways, load generators): at exit each gets SIGKILL,
// except those that asked for SIGTERM to clean up after themselves (the gateway).
import type { ChildProcess } from 'node:child_process'

const children = new Map<ChildProcess, NodeJS.Signals>()

export function track(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): ChildProcess {
  children.set(child, signal)
  child.once('exit', () => children.delete(child))
  return child
}

export function killTracked(): void {
  for (const [c, signal] of children) {
    try {
      c.kill(signal)
    } catch {}
  }
}

process.once('exit', killTracked)
