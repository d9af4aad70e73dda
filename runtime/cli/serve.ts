// `kindling serve`: starts the gateway on its embedded defaults (SQLite in the data dir, no
// external service) and stops cleanly on SIGINT/SIGTERM.
import { type Config } from '../config.js'
import { createKindling, passwordFileOf } from '../kindling.js'
import { EXAMPLES_APP } from '../examples.js'

export async function serve(config: Config): Promise<number> {
  const k = await createKindling(config)
  const url = await k.listen()
  const out = process.stdout
  out.write(`kindling ${url}\n`)
  out.write(`  data dir: ${config.dataDirAbs}\n`)
  if (k.credentials) out.write(`  /system/* needs basic auth: user ${k.credentials.user}, password in ${passwordFileOf(config.dataDirAbs)}\n`)
  const tiers = [...k.tiers.values()].map((t) => (t.unavailableReason() ? `${t.name} (unavailable: ${t.unavailableReason()})` : t.name))
  out.write(`  tiers: ${tiers.join(', ')}\n`)
  const examples = k.functions.list().filter((f) => f.settings.app === EXAMPLES_APP).map((f) => f.stored.deployment.service)
  if (examples.length) out.write(`  try: curl -d 'hello' ${url}/function/${examples.includes('echo') ? 'echo' : examples[0]}\n`)
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  out.write('kindling: stopping\n')
  await k.close()
  return 0
}
