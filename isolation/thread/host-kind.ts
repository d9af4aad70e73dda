// Registers the `thread` sandbox kind in an app host (imported through --kind=<this file's URL>).
// The implementation, and piscina with it, is imported on the first LOAD only, so that app hosts
// of applications without thread functions start as fast as before.
import { registerHostKind } from '../apphost/host-kinds.js'

registerHostKind('thread', async (req) => {
  const { loadThreadFunction } = await import('./host-threads.js')
  return loadThreadFunction(req)
})
