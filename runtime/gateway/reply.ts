// How the gateway answers with an error: the status from the error table, the code in a header
// and a JSON body { code, status, message }.
import type { FastifyReply } from 'fastify'
import { asKindlingError, type KindlingError } from '../errors.js'

export const ERROR_HEADER = 'x-kindling-error'

export function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  const err: KindlingError = asKindlingError(e)
  return reply.code(err.status).header(ERROR_HEADER, err.code).type('application/json').send(JSON.stringify(err.toJSON()) + '\n')
}
