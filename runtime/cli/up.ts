// `kindling build` and `kindling up`: build the stack's functions that changed, and (up) deploy the
// ones whose artifact or settings differ from what the gateway runs. What was deployed is recorded
// on the deployment itself, as the annotation com.kindling.stack-sha256 (a hash of the deploy
// request and the artifact's digest), so `up` needs no local state and sees changes made by others.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import type { Config } from '../config.js'
import { flag, type ParsedArgs } from './args.js'
import { buildOne, buildTargets, selectTargets } from './build.js'
import { CliError, expectOk, type GatewayClient } from './client.js'
import { deployOne, type DeployPlan } from './commands.js'
import { planOf, readStack } from './stack.js'

export const STACK_HASH_ANNOTATION = 'com.kindling.stack-sha256'

export function stackFileOf(args: ParsedArgs): string {
  return flag(args, 'file') ?? 'stack.yml'
}

export async function buildCommand(args: ParsedArgs, config: Config): Promise<number> {
  const stack = readStack(stackFileOf(args), flag(args, 'filter'))
  for (const t of selectTargets(stack, args.positionals)) await buildOne(t, config, { force: !!flag(args, 'no-cache') })
  return 0
}

/** The hash up compares: what the deploy request says, with the artifact's content digest. */
function planHash(plan: DeployPlan): string {
  const artifact = plan.wasmFile ? `wasm:sha256:${createHash('sha256').update(fs.readFileSync(plan.wasmFile)).digest('hex')}` : plan.image
  return createHash('sha256').update(JSON.stringify({ body: plan.body, artifact })).digest('hex')
}

async function deployedHash(client: GatewayClient, plan: DeployPlan): Promise<string | undefined> {
  const ns = plan.body.namespace ? `?namespace=${encodeURIComponent(String(plan.body.namespace))}` : ''
  const res = await client.request('GET', `/system/function/${encodeURIComponent(plan.service)}${ns}`)
  if (res.status === 404) return undefined
  const status = (await (await expectOk(res, `reading ${plan.service}`)).json()) as { annotations?: Record<string, string> }
  return status.annotations?.[STACK_HASH_ANNOTATION]
}

export async function upCommand(client: GatewayClient, args: ParsedArgs, config: Config): Promise<number> {
  const stack = readStack(stackFileOf(args), flag(args, 'filter'))
  const names = args.positionals
  const chosen = names.length ? stack.functions.filter(([n]) => names.includes(n)) : stack.functions
  for (const n of names) if (!stack.functions.some(([x]) => x === n)) throw new CliError(`${stack.file} has no function ${n} (it has ${stack.functions.map(([x]) => x).join(', ')})`)
  // a function with a handler folder is built first (unless its sources did not change)
  const targets = buildTargets(stack).filter((t) => !names.length || names.includes(t.name))
  for (const t of targets) await buildOne(t, config, { force: !!flag(args, 'no-cache') })
  let deployed = 0
  for (const [name, f] of chosen) {
    const plan = planOf(stack, name, f)
    const hash = planHash(plan)
    if (!flag(args, 'force') && (await deployedHash(client, plan)) === hash) {
      process.stdout.write(`${name}: unchanged on ${client.url}, not deployed again\n`)
      continue
    }
    plan.body = { ...plan.body, annotations: { ...((plan.body.annotations as Record<string, string>) ?? {}), [STACK_HASH_ANNOTATION]: hash } }
    await deployOne(client, plan)
    deployed++
  }
  process.stdout.write(`${deployed} of ${chosen.length} function${chosen.length === 1 ? '' : 's'} deployed.\n`)
  return 0
}
