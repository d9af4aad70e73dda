// Variables of the run's environment that change what is measured and are not kindling's: the
// runner removes them before it starts anything, so that every child process (kindling's app
// hosts, spares, spawned node processes) starts the same way as the containers, whose
// environment is their image's. The start-up mechanisms measure what one of them cost.

/** Node reads this file of CA certificates at every start: ~40 ms more per `node` here. */
export const NOISY_ENV = ['NODE_EXTRA_CA_CERTS'] as const

/** What the runner removed, by name. */
export const removedEnv: Record<string, string> = {}

export function removeNoisyEnv(): void {
  for (const k of NOISY_ENV) {
    const v = process.env[k]
    if (v === undefined) continue
    removedEnv[k] = v
    delete process.env[k]
  }
}
