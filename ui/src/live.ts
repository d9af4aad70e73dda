// Polling with a status line, and what a page shows for an error.
import { ApiError } from './api.js'
import { fill, h } from './dom.js'

export type Stop = () => void
export type Page = (root: HTMLElement, arg: string) => Stop | void

let unauthorized: () => void = () => {}

/** what to do when the gateway stops accepting the credentials (main.ts: back to the login form) */
export function onUnauthorized(f: () => void): void {
  unauthorized = f
}

/** An error as the gateway said it, for a status line. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return `${e.code}: ${e.message}`
  return e instanceof Error ? e.message : String(e)
}

/** Runs `tick` now and then every 2 s until stopped; its errors show in `status`. */
export function poll(tick: () => Promise<void>, status: HTMLElement, everyMs = 2000): Stop {
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const run = async () => {
    // a hidden tab does not poll; it catches up on the first tick after it shows again
    if (document.hidden) {
      timer = setTimeout(run, everyMs)
      return
    }
    try {
      await tick()
      if (!stopped) fill(status)
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return unauthorized()
      if (!stopped) fill(status, h('span', { class: 'error' }, describeError(e)))
    }
    if (!stopped) timer = setTimeout(run, everyMs)
  }
  void run()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}
