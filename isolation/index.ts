// The isolation tiers' public surface for code outside runtime/ and isolation/ (bench/, paper/):
// they import from here, never from a tier's files (test/architecture-surface.test.ts checks it).

// the tier contract (bench/ scopes, lib and tiers; paper/ experiments)
export type {
  CallRequest, ContainerArtifact, FunctionArtifact, WasmArtifact, InvokeRequest, InvokeResult, InvokeTimings, IsolationTier, Prepared, Sandbox, TierContext, TierName, TierSettings,
} from './tier.js'

// the tiers themselves, built directly for in-process measurements (bench/tiers, bench/lib/inproc, bench/container, paper/)
export { InlineTier } from './inline/tier.js'
export { WasmTier } from './apphost/wasm-tier.js'
export { ThreadTier } from './thread/tier.js'
export { ProcessTier } from './process/tier.js'
export { type ContainerTier, createContainerTier, type ClassicSandbox, type HttpSandbox } from './container/index.js'
export type { ContainerPrepared } from './container/plan.js'

// container tooling: OCI runtimes, cgroups, test images (bench/container, paper/ containers, mechanisms, r9)
export { runCommand, which } from './container/runtime.js'
export { allHierarchies, cgroupLayout, removeCgroupTree } from './container/cgroups.js'
export { buildBusyboxImage, buildNodeImage, findStaticBusybox, openImageStore, pullImage, type RegistrySettings } from './container/images/index.js'

// the app host program and its frame protocol, driven directly (bench/lib/apphost-client, floors, bench/scopes/density)
export { appHostEntry, hostEnvironment } from './apphost/host-process.js'
export { encodeFrame, FRAME, type Frame, FrameDecoder } from './apphost/protocol.js'

// module entry points from source or dist/ (bench/lib: gateway, load, openloop, registry; bench/tiers/run)
export { type ModuleEntry, runningFromSource, siblingModule } from './entry.js'

// wasm preparation and instrumentation (bench/scopes/density, bench/tiers/interrupt)
export { prepareWasm } from './wasm/prepare.js'
export { INTERRUPT_IMPORT, instrument } from './wasm/binary/instrument.js'
export { standaloneWasmFunction } from './wasm/standalone.js'

// key-value state (issue 13, item 2): the SQLite backend and the guest imports (bench/ops/kv)
export { SqliteKvBackend } from './wasm/host/kv-sqlite.js'
export { kvImports } from './wasm/host/kv-imports.js'

// the component toolchain (bench/component)
export { TRANSPILE_OPTIONS } from './component/prepare.js'
export { runJco } from './component/toolchain/jco.js'

// outbound HTTP of wasm modules (issue 13 item 1; bench/ops/outbound.ts, bench/ops/asyncify.ts)
export { parseOutbound } from './wasm/host/outbound-grants.js'
export { outboundImports } from './wasm/host/outbound.js'
export { outboundFetch, OUTBOUND_ERROR, type OutboundPolicy, type OutboundResponse } from './wasm/host/outbound-fetch.js'
export { OutputBuffer, runWasiStart, WasiExit, WasiPreview1 } from './wasm/wasi.js'

// an instance-cold call in-process, between two builds (bench/profiles/cold-ab.ts)
export { compileModule } from './wasm/compile.js'
export type { WasmFunction } from './wasm/runner.js'
