// Measurements several experiments read, made once per paper run: the container kit and the
// start-up mechanisms.
import path from 'node:path'
import { type ContainerKit, openContainerKit } from './containers.js'
import { type MechanismResults, measureMechanisms } from './mechanisms.js'
import type { PaperContext } from './types.js'

export function containerKit(ctx: PaperContext): Promise<ContainerKit> {
  return ctx.shared('containers', async () => {
    ctx.progress.step('container baselines: images, bundles, engines')
    const kit = await openContainerKit(ctx.repoRoot, path.join(ctx.sharedDir, 'containers'), { engines: !ctx.quick && ctx.options['no-engines'] !== true, log: ctx.log })
    ctx.atEnd(() => kit.close())
    return kit
  })
}

export function mechanisms(ctx: PaperContext): Promise<MechanismResults> {
  return ctx.shared('mechanisms', async () => measureMechanisms(ctx, await containerKit(ctx), path.join(ctx.sharedDir, 'mechanisms')))
}
