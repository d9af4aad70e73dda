// Ctrl-C in a long run: the first one lets the current step finish and stops after it, a second
// one quits at once. Shared by the bench and paper runners.

/** Installs the SIGINT handler; the returned function tells whether a stop was asked for. */
export function stopOnInterrupt(): () => boolean {
  let interrupted = false
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130)
    interrupted = true
    process.stderr.write('\nstopping after the current step (Ctrl-C again to quit at once)\n')
  })
  return () => interrupted
}
