// Progress on stderr while a benchmark runs: one line rewritten in place on a terminal, and at
// most one line every few seconds (plus every new step) when stderr is a file or a CI log.

export interface Progress {
  /** a new step: 'wasm / noop: instance-cold in-process' */
  step(label: string): void
  /** how far the current step is */
  tick(done: number, total: number, extra?: string): void
  /** a line that stays */
  line(text: string): void
  /** clears the in-place line before the table is printed */
  done(): void
}

export function createProgress(prefix: string, stream: NodeJS.WriteStream = process.stderr, opts: { everyMs?: number } = {}): Progress {
  const tty = Boolean(stream.isTTY)
  const everyMs = opts.everyMs ?? (tty ? 100 : 5000)
  const started = Date.now()
  let label = ''
  let last = 0
  let dirty = false
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`
  const write = (text: string, keep: boolean) => {
    if (tty) {
      const cols = stream.columns || 120
      stream.write(`\r\x1b[K${text.slice(0, cols - 1)}${keep ? '\n' : ''}`)
      dirty = !keep
    } else {
      stream.write(`${text}\n`)
    }
  }
  return {
    step(l) {
      label = l
      last = Date.now()
      write(`[${prefix} ${elapsed()}] ${label}`, !tty)
    },
    tick(done, total, extra) {
      const now = Date.now()
      if (now - last < everyMs && done < total) return
      last = now
      write(`[${prefix} ${elapsed()}] ${label} ${done}/${total}${extra ? ` ${extra}` : ''}`, !tty)
    },
    line(text) {
      write(`[${prefix} ${elapsed()}] ${text}`, true)
    },
    done() {
      if (tty && dirty) stream.write('\r\x1b[K')
      dirty = false
    },
  }
}
