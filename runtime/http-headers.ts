// The one hop-by-hop header list lives beside the tiers (isolation/http-headers.ts: tiers cannot
// import runtime/); the gateway takes it from here, so that nothing under runtime/gateway/ reaches
// into isolation/.
export { GATEWAY_RESPONSE_HEADERS, HOP_BY_HOP_HEADERS, isHopByHop, stripHopByHop, type StripOptions } from '../isolation/http-headers.js'
