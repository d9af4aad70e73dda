// Turns component support on: the upload check (classify.ts, which runs jco in a helper process
// only when a component arrives) and the app hosts' `component` sandbox kind. Importing this file
// loads neither jco nor the component runner.
import { siblingModule } from '../entry.js'
import { setComponentClassifier } from '../wasm/classify.js'

/** Installs the upload check; returns the module specifier app hosts import for the sandbox kind. */
export function installComponentSupport(): string {
  setComponentClassifier(async (bytes) => (await import('./classify.js')).classifyComponent(bytes))
  return siblingModule(import.meta.url, 'host-kind').url
}
