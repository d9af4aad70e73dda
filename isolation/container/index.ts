// The container tier's public surface.
export { ContainerTier, createContainerTier } from './tier.js'
export type { ContainerTierOptions } from './plan.js'
export { ClassicSandbox } from './classic.js'
export { HttpSandbox } from './http-mode.js'
