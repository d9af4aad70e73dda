// Function logs on disk, so that they survive a restart or a kill -9 of kindling (as container logs
// do on an OpenFaaS provider). Lines are appended in batches from a timer, never on the call path;
// two files of at most maxBytes each are kept (the current one and the one before). The files are
// 0600 (function output may hold anything). A full disk costs the lines of the batches that did
// not fit (the in-memory logs still have them), with one message when it starts and one when it ends.
import fs from 'node:fs'
import path from 'node:path'
import type { LogMessage } from './logs.js'
import { mkdirPrivate, PRIVATE_FILE_MODE } from './registry/private.js'

export interface JournalRecord extends LogMessage {
  key: string
}

interface Line {
  k: string
  i: string
  s: LogMessage['stream']
  t: string
  x: string
}

const FLUSH_EVERY_MS = 100

export class LogJournal {
  private readonly file: string
  private readonly previous: string
  private pending: JournalRecord[] = []
  private timer: NodeJS.Timeout | undefined
  private size: number
  private chain: Promise<void> = Promise.resolve()
  private closed = false
  /** the last write failed: the next one starts on a new line (the failed one may be torn) */
  private failing = false

  constructor(private readonly dir: string, private readonly maxBytes: number) {
    this.file = path.join(dir, 'functions.ndjson')
    this.previous = path.join(dir, 'functions.1.ndjson')
    this.size = fs.existsSync(this.file) ? fs.statSync(this.file).size : 0
  }

  /** Every record kept on disk, oldest first; a line torn by a crash is skipped. */
  load(): JournalRecord[] {
    const out: JournalRecord[] = []
    for (const f of [this.previous, this.file]) {
      if (!fs.existsSync(f)) continue
      for (const raw of fs.readFileSync(f, 'utf8').split('\n')) {
        if (raw === '') continue
        try {
          const l = JSON.parse(raw) as Line
          const dot = l.k.lastIndexOf('.')
          out.push({ key: l.k, name: dot < 0 ? l.k : l.k.slice(0, dot), namespace: dot < 0 ? '' : l.k.slice(dot + 1), instance: l.i, stream: l.s, timestamp: l.t, text: l.x })
        } catch {
          // torn or foreign line
        }
      }
    }
    return out
  }

  append(r: JournalRecord): void {
    if (this.closed) return
    this.pending.push(r)
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.chain = this.chain.then(() => this.flush())
      }, FLUSH_EVERY_MS)
      this.timer.unref()
    }
  }

  private take(): string {
    const batch = this.pending
    this.pending = []
    let text = ''
    for (const r of batch) text += JSON.stringify({ k: r.key, i: r.instance, s: r.stream, t: r.timestamp, x: r.text } satisfies Line) + '\n'
    return text
  }

  private async flush(): Promise<void> {
    const text = this.take()
    if (text === '') return
    try {
      this.rotateIfFull()
      await fs.promises.appendFile(this.file, this.failing ? '\n' + text : text, { mode: PRIVATE_FILE_MODE })
      this.size += Buffer.byteLength(text)
      this.wrote()
    } catch (e) {
      this.failed(e)
    }
  }

  private wrote(): void {
    if (!this.failing) return
    this.failing = false
    process.stderr.write('kindling: function logs are written to the data dir again\n')
  }

  private failed(e: unknown): void {
    if (this.failing) return
    this.failing = true
    process.stderr.write(`kindling: could not write function logs (${(e as Error).message}); they are kept in memory only until a write succeeds\n`)
  }

  private rotateIfFull(): void {
    // made here, not in the constructor: a start on a full disk must not fail on it
    if (!fs.existsSync(this.dir)) mkdirPrivate(this.dir)
    if (this.size < this.maxBytes) return
    fs.renameSync(this.file, this.previous)
    this.size = 0
  }

  /** Writes what is pending, synchronously (at shutdown). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    await this.chain
    const text = this.take()
    if (text === '') return
    try {
      this.rotateIfFull()
      fs.appendFileSync(this.file, this.failing ? '\n' + text : text, { mode: PRIVATE_FILE_MODE })
    } catch {
      // the data dir is going away (tests) or full: the in-memory logs were served anyway
    }
  }
}
