// The `component` sandbox kind of app hosts. Every app host imports this file at start (through
// APP_HOST_KINDS); the runner and the component's bindings load only when a component is loaded.
import { type LoadRequest, registerHostKind } from '../apphost/host-kinds.js'

registerHostKind('component', async (req: LoadRequest) => (await import('./host-function.js')).loadComponentFunction(req))
