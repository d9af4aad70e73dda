// The error table and KindlingError live in isolation/errors.ts, a module that imports nothing,
// so that the tiers (which must not import runtime/) and the gateway share one table.
export * from '../isolation/errors.js'
