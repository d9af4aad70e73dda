// POST /system/artifacts: upload a WebAssembly module (body application/wasm). The registry has it
// classified now, so a broken module is refused at upload, and stores it content-addressed.
import type { FastifyInstance } from 'fastify'
import type { Registry } from '../../registry/registry.js'
import { sendError } from '../reply.js'

export const ARTIFACT_CONTENT_TYPES = ['application/wasm', 'application/octet-stream']

export function registerArtifactRoutes(app: FastifyInstance, opts: { registry: Registry; maxUploadBytes: number }): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser(ARTIFACT_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: opts.maxUploadBytes }, (_req, body, done) => done(null, body))
    scope.post('/system/artifacts', async (req, reply) => {
      try {
        const rec = await opts.registry.uploadArtifact((req.body as Buffer | undefined) ?? Buffer.alloc(0))
        return reply.code(201).send({ digest: `sha256:${rec.digest}`, image: `wasm:sha256:${rec.digest}`, format: rec.format, size: rec.size })
      } catch (e) {
        return sendError(reply, e)
      }
    })
  })
  app.get('/system/artifacts', async () => opts.registry.listArtifacts().map((a) => ({ digest: `sha256:${a.digest}`, image: `wasm:sha256:${a.digest}`, format: a.format, size: a.size, createdAt: a.createdAt })))
}
