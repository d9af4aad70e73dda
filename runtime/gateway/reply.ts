// How the gateway answers with an error: the status from the error table, the code in a header
// and a JSON body { code, status, message }: the same body a tier makes for a failed call
// (failedResult), so that every error kindling makes looks alike to a caller.
import type { FastifyReply } from 'fastify'
import { asKindlingError, ERROR_CONTENT_TYPE, ERROR_HEADER, errorBody, type KindlingError } from '../errors.js'

export { ERROR_HEADER }

/** seconds a client is told to wait when the bound on request bytes in flight is reached */
export const INFLIGHT_RETRY_AFTER_S = 1

export function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  const err: KindlingError = asKindlingError(e)
  if (err.code === 'KINDLING_ERR_INFLIGHT_BYTES') reply.header('retry-after', String(INFLIGHT_RETRY_AFTER_S))
  return reply.code(err.status).header(ERROR_HEADER, err.code).type(ERROR_CONTENT_TYPE).send(errorBody(err.code, err.message))
}
