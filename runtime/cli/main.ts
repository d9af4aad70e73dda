// kindling's command line: `kindling serve` runs the gateway; the other commands talk to one.
import { loadConfig } from '../config.js'
import { parseArgs } from './args.js'
import { CliError, gatewayClient } from './client.js'
import { deployCommand, describeCommand, invokeCommand, listCommand, logsCommand, removeCommand } from './commands.js'
import { serve } from './serve.js'

const HELP = `kindling: a lightweight-isolation function runtime with an OpenFaaS-compatible API

  kindling serve [--host H] [--port P] [--data-dir D]      start the gateway
                [--nats nats://HOST:PORT --role gateway|worker|all --cluster-key-file F]   join a cluster
  kindling deploy FILE.wasm [--name N] [--label k=v] [--env k=v] [--isolation TIER] [--app A]
                 [--memory 128Mi] [--secret S] [--namespace NS]
  kindling deploy --image IMAGE --name N [--fprocess CMD]  deploy a container image
  kindling deploy -f stack.yml [--filter GLOB]             deploy an OpenFaaS stack file
  kindling invoke N [--data TEXT] [-H k=v] [--method M] [--query k=v] [--async]
  kindling list | describe N | remove N | logs N [--tail N] [--follow]
  kindling image import NAME:TAG rootfs.tar | build busybox|node [NAME:TAG] | list | remove NAME:TAG

The gateway is --gateway, else OPENFAAS_URL, else http://127.0.0.1:8080; credentials come from
<data dir>/secrets (KINDLING_DATA_DIR or --data-dir, default ./.kindling) or ~/.openfaas/config.yml.
`

const BOOLEANS = ['async', 'follow', 'help', 'update']

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP)
    return command ? 0 : 2
  }
  const args = parseArgs(rest, BOOLEANS)
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
  if (command === 'serve') return serve(config)
  if (command === 'image') {
    // the image store comes with the container tier
    const imageModule = './image.js'
    const { imageCommand } = (await import(imageModule)) as { imageCommand(argv: string[], dataDir: string): Promise<number> }
    return imageCommand(rest, config.dataDirAbs)
  }
  const client = gatewayClient(args.flags.get('gateway')?.at(-1) ?? config.gatewayUrl, config.dataDirAbs)
  switch (command) {
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
    default:
      process.stderr.write(`kindling: unknown command ${command}\n\n${HELP}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`kindling: ${e instanceof CliError || e instanceof Error ? e.message : String(e)}\n`)
    process.exitCode = 1
  },
)
