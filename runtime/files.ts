// The private atomic write lives beside the tiers (isolation/files.ts: tiers cannot import
// runtime/); the registry takes it from here, so that nothing under runtime/registry/ reaches into
// isolation/.
export { PRIVATE_FILE_MODE, writePrivateAtomic } from '../isolation/files.js'
