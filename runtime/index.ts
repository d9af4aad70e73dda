// kindling's public surface for code outside runtime/ and isolation/ (bench/, paper/): they import
// from here, never from runtime's files (test/architecture-surface.test.ts checks it).

// where the checkout is and which version runs (bench/ and paper/ runners, scopes, ops, fuzz)
export { readVersion, REPO_ROOT } from './version.js'

// a whole kindling in-process, configured as `kindling serve` would be (bench/lib/gateway-main, bench/tiers/http, bench/fuzz, bench/component)
export { createKindling, type Kindling } from './kindling.js'
export { CONFIG_TABLE, type Config, loadConfig } from './config.js'

// the tiers as the gateway builds them, for in-process measurements (bench/lib/inproc, bench/scopes/density)
export { closeSharedHosts, createTiers, tierContext, tierSettings } from './tiers.js'
export { settingsOf } from './spec.js'

// cold-start phases a call reports (bench/lib/gateway, gateway-main)
export type { ColdStart } from './pool/pool.js'

// the gateway's per-call cancel signal, timed against AbortController (bench/profiles/micro-ab)
export { CallCancel } from './gateway/cancel.js'

// usage and tracing (issue 13): their per-call pieces, timed in bench/profiles/usage-tracing-ab
export { UsageMeter } from './usage/meter.js'
export { OtlpExporter } from './tracing/otlp.js'
export { Tracer } from './tracing/tracer.js'
