// The raw fastify baseline in its own process: the same fastify kindling's gateway uses, a route
// that answers the request body (what the echo function does), bodies parsed as bytes as the
// gateway parses them. Sends its URL over IPC and runs until disconnected.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
app.post('/echo', async (req, reply) => reply.header('content-type', 'text/plain').send(req.body as Buffer))
app.get('/', async () => 'ok')
const url = await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ url })
process.on('disconnect', () => {
  void app.close().finally(() => process.exit(0))
})
