// Errors made before a route runs: fastify's router (a URL it cannot decode, a parameter over its
// length limit) and Node's HTTP parser (a malformed request line or header, headers too large, a
// request that timed out). Left to their defaults they answer with bodies of their own shapes and
// no code; here they get the gateway's one error shape, { code, status, message } with the code
// in X-Kindling-Error, like every other error kindling makes.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { ERROR_CONTENT_TYPE, ERROR_HEADER, errorBody, KindlingError } from '../errors.js'
import { sendError } from './reply.js'

/** fastify's frameworkErrors option: router errors, answered like any route error. */
export function answerFrameworkError(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  switch (err.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      void sendError(reply, new KindlingError('KINDLING_ERR_URI_TOO_LONG', 'a name or id in the URL is longer than the gateway accepts'))
      return
    case 'FST_ERR_BAD_URL':
      void sendError(reply, new KindlingError('KINDLING_ERR_BAD_REQUEST', 'the URL has a malformed percent escape'))
      return
    default:
      void sendError(reply, new KindlingError('KINDLING_ERR_BAD_REQUEST', err.message))
  }
}

/** The error for a request Node's HTTP parser refused (the socket has no request object yet). */
export function clientErrorOf(code: string | undefined): KindlingError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new KindlingError('KINDLING_ERR_REQUEST_TIMEOUT', 'the request was not received in time')
  if (code === 'HPE_HEADER_OVERFLOW') return new KindlingError('KINDLING_ERR_HEADERS_TOO_LARGE', 'the request headers are larger than the gateway accepts')
  return new KindlingError('KINDLING_ERR_BAD_REQUEST', 'the request is not valid HTTP/1.1')
}

/** fastify's clientErrorHandler option: writes the error straight to the socket, then closes it. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  if (socket.writable) {
    const k = clientErrorOf(err.code)
    const body = errorBody(k.code, k.message)
    socket.write(`HTTP/1.1 ${k.status} ${STATUS_CODES[k.status]}\r\nContent-Type: ${ERROR_CONTENT_TYPE}\r\n${ERROR_HEADER}: ${k.code}\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`)
    socket.write(body)
  }
  socket.destroy()
}
