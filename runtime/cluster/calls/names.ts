// NATS subjects and HTTP names of sync calls between nodes (one place, issue 12 item 3).

/** a worker takes calls placed on it here */
export const callSubject = (nodeId: string) => `kindling.calls.${nodeId}`
/** a gateway asks a worker to stop a call here (data: the call's reply subject) */
export const cancelSubject = (nodeId: string) => `kindling.cancel.${nodeId}`
/** a worker answers here while its NATS connection lives: gateways probe it for the calls they have in flight there */
export const aliveSubject = (nodeId: string) => `kindling.alive.${nodeId}`
/** the internal route a worker serves calls on (only with a valid cluster token) */
export const CALL_ROUTE = '/_kindling/call'
export const AUTH_HEADER = 'x-kindling-call-auth'
export const FRAME_TYPE = 'application/x-kindling-call'
/** on every answer to a call in a cluster: the node that ran it */
export const NODE_HEADER = 'x-kindling-node'
