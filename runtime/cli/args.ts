// A small argv parser: positionals, --flag value, --flag=value, repeatable flags and booleans.

export interface ParsedArgs {
  positionals: string[]
  flags: Map<string, string[]>
}

/** Short aliases, as faas-cli has them. */
const ALIASES: Record<string, string> = { n: 'namespace', H: 'header', m: 'method', d: 'data', g: 'gateway', l: 'label', e: 'env', f: 'file' }

export function parseArgs(argv: string[], booleans: readonly string[] = []): ParsedArgs {
  const positionals: string[] = []
  const flags = new Map<string, string[]>()
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v])
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(a)
    if (!m || a === '-') {
      positionals.push(a)
      continue
    }
    const key = ALIASES[m[1]!] ?? m[1]!
    if (m[2] !== undefined) add(key, m[2])
    else if (booleans.includes(key)) add(key, 'true')
    else if (i + 1 < argv.length) add(key, argv[++i]!)
    else throw new Error(`--${key} needs a value`)
  }
  return { positionals, flags }
}

export function flag(a: ParsedArgs, name: string): string | undefined {
  return a.flags.get(name)?.at(-1)
}

export function flagAll(a: ParsedArgs, name: string): string[] {
  return a.flags.get(name) ?? []
}

/** k=v pairs from repeated flags. */
export function keyValues(a: ParsedArgs, name: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of flagAll(a, name)) {
    const eq = kv.indexOf('=')
    if (eq <= 0) throw new Error(`--${name} ${kv}: expected key=value`)
    out[kv.slice(0, eq)] = kv.slice(eq + 1)
  }
  return out
}
