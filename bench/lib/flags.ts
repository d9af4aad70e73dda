// Command-line flags of the bench and paper runners: `--name value`, `--name=value` or a bare
// `--name` (true). `take` removes a flag it reads, so what is left over can be passed on or refused.

export interface Flags {
  options: Record<string, string | boolean>
  take(name: string): string | boolean | undefined
}

export function parseFlags(argv: readonly string[]): Flags {
  const options: Record<string, string | boolean> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a} (flags are --name value or --name=value)`)
    const eq = a.indexOf('=')
    if (eq > 0) options[a.slice(2, eq)] = a.slice(eq + 1)
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) options[a.slice(2)] = argv[++i]!
    else options[a.slice(2)] = true
  }
  return {
    options,
    take(name) {
      const v = options[name]
      delete options[name]
      return v
    },
  }
}
