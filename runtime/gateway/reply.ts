// How the gateway answers with an error: the status from the error table, the code in a header
// and a JSON body { code, status, message }.
import type { FastifyReply } from 'fastify'
import { asKindlingError, type KindlingError } from '../errors.js'
import { INFLIGHT_RETRY_AFTER_S } from './inflight.js'

export const ERROR_HEADER = 'x-kindling-error'

export function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  const err: KindlingError = asKindlingError(e)
  if (err.code === 'KINDLING_ERR_INFLIGHT_BYTES') reply.header('retry-after', String(INFLIGHT_RETRY_AFTER_S))
  return reply.code(err.status).header(ERROR_HEADER, err.code).type('application/json').send(JSON.stringify(err.toJSON()) + '\n')
}
