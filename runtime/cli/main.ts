// kindling's command line: `kindling serve` runs the gateway; the other commands talk to one.
import fs from 'node:fs'
import { type Config, ConfigError, loadConfig } from '../config.js'
import { flag, parseArgs, type ParsedArgs } from './args.js'
import { CliError, gatewayClient } from './client.js'
import { deployCommand, describeCommand, invokeCommand, listCommand, logsCommand, removeCommand } from './commands.js'
import { completionCommand } from './completion.js'
import { newCommand } from './new.js'
import { serve } from './serve.js'
import { readStack } from './stack.js'
import { topCommand } from './top.js'
import { usageCommand } from './usage.js'
import { kvCommand } from './kv.js'
import { buildCommand, upCommand } from './up.js'

const HELP = `kindling: a lightweight-isolation function runtime with an OpenFaaS-compatible API

  kindling serve [--host H] [--port P] [--data-dir D]      start the gateway
                [--nats nats://HOST:PORT --role gateway|worker|all --cluster-key-file F]   join a cluster
  kindling new NAME --lang c|rust|assemblyscript|js [-f stack.yml]   write a function from a template
  kindling build [-f stack.yml] [NAME...] [--no-cache]     build the stack's functions into .wasm
  kindling up [-f stack.yml] [NAME...] [--force]           build and deploy what changed
  kindling deploy FILE.wasm [--name N] [--label k=v] [--env k=v] [--isolation TIER] [--app A]
                 [--memory 128Mi] [--secret S] [--namespace NS]
  kindling deploy --image IMAGE --name N [--fprocess CMD]  deploy a container image
  kindling deploy -f stack.yml [--filter GLOB]             deploy an OpenFaaS stack file
  kindling invoke N [--data TEXT] [-H k=v] [--method M] [--query k=v] [--async]   (body: --data or stdin)
  kindling list [--json] | describe N [--json] | remove N | remove -f stack.yml | logs N [--tail N] [-f|--follow]
  kindling top [--interval S] [--once]                     live table: rps, p99, warm sandboxes
  kindling usage [--since 24h|7d] [--namespace NS] [--json]  calls, wall/CPU time, GB-s, bytes per function
  kindling kv stores | keys APP STORE [--prefix P] | get|put|delete APP STORE KEY [--data TEXT]   key-value stores
  kindling completion bash|zsh                             shell completion (eval "$(kindling completion bash)")
  kindling image import NAME:TAG rootfs.tar | build busybox|node [NAME:TAG] | list | remove NAME:TAG

The gateway is --gateway, else OPENFAAS_URL, else the stack file's provider.gateway (-f FILE,
else ./stack.yml), else http://127.0.0.1:8080; credentials come from <data dir>/secrets
(KINDLING_DATA_DIR or --data-dir, default ./.kindling) or ~/.openfaas/config.yml.
`

export const DEFAULT_GATEWAY = 'http://127.0.0.1:8080'
const BOOLEANS = ['async', 'follow', 'help', 'update', 'json', 'force', 'no-cache', 'once']

/** The gateway as faas-cli picks it: --gateway, OPENFAAS_URL, the stack's provider.gateway, the default. */
function gatewayOf(args: ParsedArgs, config: Config): string {
  const explicit = flag(args, 'gateway') ?? (config.gatewayUrl || undefined)
  if (explicit) return explicit
  // as faas-cli: -f, else ./stack.yml when there is one
  const stackFile = flag(args, 'file') ?? 'stack.yml'
  if (!fs.existsSync(stackFile)) return DEFAULT_GATEWAY
  try {
    return readStack(stackFile).gateway ?? DEFAULT_GATEWAY
  } catch (e) {
    // a broken ./stack.yml the user did not name does not stop list, invoke...; a named one does
    if (flag(args, 'file')) throw e
    return DEFAULT_GATEWAY
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP)
    return command ? 0 : 2
  }
  // for logs, -f means --follow (as in tail -f); elsewhere it is the stack file
  const args = parseArgs(command === 'logs' ? rest.map((a) => (a === '-f' ? '--follow' : a)) : rest, BOOLEANS)
  if (flag(args, 'help')) {
    process.stdout.write(HELP)
    return 0
  }
  const dataDir = args.flags.get('data-dir')?.at(-1)
  const overrides: Record<string, unknown> = {}
  if (dataDir) overrides.dataDir = dataDir
  if (args.flags.has('port')) overrides.port = Number(args.flags.get('port')!.at(-1))
  if (args.flags.has('host')) overrides.host = args.flags.get('host')!.at(-1)
  // cluster (issue 12): the same as KINDLING_NATS_URL, KINDLING_ROLE, KINDLING_CLUSTER_KEY_FILE
  if (args.flags.has('nats')) overrides.natsUrl = args.flags.get('nats')!.at(-1)
  if (args.flags.has('role')) overrides.role = args.flags.get('role')!.at(-1)
  if (args.flags.has('cluster-key-file')) overrides.clusterKeyFile = args.flags.get('cluster-key-file')!.at(-1)
  const config = loadConfig(process.env, overrides)
  switch (command) {
    case 'serve':
      return serve(config)
    case 'image': {
      // the image store comes with the container tier
      const imageModule = './image.js'
      const { imageCommand } = (await import(imageModule)) as { imageCommand(argv: string[], dataDir: string, config: Config): Promise<number> }
      return imageCommand(rest, config.dataDirAbs, config)
    }
    case 'new':
      return newCommand(args)
    case 'build':
      return buildCommand(args, config)
    case 'completion':
      return completionCommand(args)
  }
  const client = gatewayClient(gatewayOf(args, config), config.dataDirAbs)
  switch (command) {
    case 'up':
      return upCommand(client, args, config)
    case 'deploy':
      return deployCommand(client, args)
    case 'invoke':
      return invokeCommand(client, args)
    case 'list':
    case 'ls':
      return listCommand(client, args)
    case 'describe':
      return describeCommand(client, args)
    case 'remove':
    case 'rm':
      return removeCommand(client, args)
    case 'logs':
      return logsCommand(client, args)
    case 'top':
      return topCommand(client, args)
    case 'usage':
      return usageCommand(client, args)
    case 'kv':
      return kvCommand(client, args)
    default:
      process.stderr.write(`kindling: unknown command ${command}; the commands are below ("kindling completion bash" completes them)\n\n${HELP}`)
      return 2
  }
}

// a reader that stops early (kindling logs -f | head) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0)
  throw e
})

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`kindling: ${messageOf(e)}\n`)
    process.exitCode = 1
  },
)

/** Every error ends with what to do next: CliErrors say it themselves; the others get a pointer. */
function messageOf(e: unknown): string {
  if (e instanceof CliError) return e.message
  if (e instanceof ConfigError) return `${e.message}. Fix that setting (README, Configuration, lists them all) and run the command again.`
  const message = e instanceof Error ? e.message : String(e)
  return `${message}. "kindling help" shows the commands and their flags.`
}
