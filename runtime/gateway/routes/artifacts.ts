// POST /system/artifacts: upload a WebAssembly module (body application/wasm). It is validated and
// compiled now, so a broken module is refused at upload, and stored content-addressed.
import type { FastifyInstance } from 'fastify'
import { KindlingError } from '../../errors.js'
import type { ArtifactStore } from '../../registry/registry-storage.js'
import { classifyArtifact } from '../../../isolation/wasm/classify.js'
import { sendError } from '../reply.js'

export const ARTIFACT_CONTENT_TYPES = ['application/wasm', 'application/octet-stream']

export function registerArtifactRoutes(app: FastifyInstance, opts: { artifacts: ArtifactStore; maxUploadBytes: number }): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser(ARTIFACT_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: opts.maxUploadBytes }, (_req, body, done) => done(null, body))
    scope.post('/system/artifacts', async (req, reply) => {
      try {
        const body = req.body as Buffer | undefined
        if (!body || body.length === 0) throw new KindlingError('KINDLING_ERR_NOT_WASM', 'the body is empty')
        const { format } = await classifyArtifact(body)
        const rec = opts.artifacts.put(body, format)
        return reply.code(201).send({ digest: `sha256:${rec.digest}`, image: `wasm:sha256:${rec.digest}`, format: rec.format, size: rec.size })
      } catch (e) {
        return sendError(reply, e)
      }
    })
  })
  app.get('/system/artifacts', async () => opts.artifacts.list().map((a) => ({ digest: `sha256:${a.digest}`, image: `wasm:sha256:${a.digest}`, format: a.format, size: a.size, createdAt: a.createdAt })))
}
