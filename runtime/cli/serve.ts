// `kindling serve`: starts the gateway on its embedded defaults (SQLite in the data dir, no
// external service) and stops cleanly on SIGINT/SIGTERM.
import { type Config } from '../config.js'
import { createKindling, passwordFileOf } from '../kindling.js'
import { EXAMPLES_APP } from '../examples.js'

export async function serve(config: Config): Promise<number> {
  const k = await createKindling(config)
  const url = await k.listen()
  // one write, so that a reader sees the whole banner at once; the tiers line comes last
  const lines = [`kindling ${url}`, `  data dir: ${config.dataDirAbs}`]
  if (k.credentials) lines.push(`  /system/* needs basic auth: user ${k.credentials.user}, password in ${passwordFileOf(config.dataDirAbs)}`)
  const examples = k.registry.list().filter((v) => v.settings.app === EXAMPLES_APP).map((v) => v.stored.deployment.service)
  // a cluster worker serves no /function route: the gateways do
  if (examples.length && (k.cluster?.servesApi ?? true)) lines.push(`  try: curl -d 'hello' ${url}/function/${examples.includes('echo') ? 'echo' : examples[0]}`)
  const { max, fdSoftLimit } = k.connectionLimit
  lines.push(`  connections: at most ${max}${fdSoftLimit === undefined ? '' : ` (open-file limit ${fdSoftLimit})`}`)
  const tiers = [...k.tiers.values()].map((t) => (t.unavailableReason() ? `${t.name} (unavailable: ${t.unavailableReason()})` : t.name))
  // cluster (issue 12): which node this is; a gateway-only node runs no tier
  if (k.cluster) lines.push(`  cluster: node ${k.cluster.id}, role ${k.cluster.role}, NATS ${config.natsUrl}`)
  lines.push(`  tiers: ${tiers.join(', ') || 'none (a gateway-only node: workers run the functions)'}`)
  process.stdout.write(lines.join('\n') + '\n')
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  process.stdout.write('kindling: stopping\n')
  await k.close()
  return 0
}
