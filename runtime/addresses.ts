// Which addresses are not public destinations: the logic lives in isolation/net/addresses.ts (the
// outbound HTTP of functions uses it too); runtime/async reaches it through here, as it reaches
// the error table through runtime/errors.ts.
export * from '../isolation/net/addresses.js'
