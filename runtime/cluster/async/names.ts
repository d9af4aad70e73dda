// The NATS names of the cluster's async calls, in one place.
/** work-queue stream: one message per accepted call until a worker acks it */
export const ASYNC_STREAM = 'KINDLING_ASYNC'
export const ASYNC_SUBJECTS = 'kindling.async.>'
/** calls whose retries ran out, kept until replayed */
export const DEAD_STREAM = 'KINDLING_ASYNC_DEAD'
export const DEAD_SUBJECTS = 'kindling.async_dead.>'
/** the one durable pull consumer every worker shares */
export const WORKERS_CONSUMER = 'kindling_async_workers'
/** call status by call id (any gateway answers GET /system/async-calls/{id}) */
export const CALLS_BUCKET = 'kindling_async_calls'
/** request bodies too large for one NATS message, by call id */
export const BODIES_BUCKET = 'kindling_async_bodies'

/** A function key (name.namespace: DNS labels, no other dots) is two subject tokens. */
export const callSubject = (fnKey: string) => `kindling.async.${fnKey}`
export const deadSubject = (fnKey: string) => `kindling.async_dead.${fnKey}`
