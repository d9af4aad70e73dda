// Transpiles runtime/, isolation/ and bench/ to dist/ with esbuild (one file in, one file out; no
// bundling), so that app hosts and worker threads start without a TypeScript loader, and bundles the
// web dashboard (ui/) into dist/ui. Type checking is `npm run typecheck`.
import { build } from 'esbuild'
import fs from 'node:fs'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
const dirs = ['runtime', 'isolation', 'bench', 'paper']
const entryPoints = []
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) walk(p)
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) entryPoints.push(p)
  }
}
for (const d of dirs) if (fs.existsSync(path.join(root, d))) walk(path.join(root, d))
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true })
await build({ entryPoints, outdir: path.join(root, 'dist'), outbase: root, format: 'esm', platform: 'node', target: 'node20', sourcemap: 'linked', logLevel: 'warning' })
// the web dashboard the gateway serves at / and /ui/
const { buildDashboard } = await import('./build-ui.mjs')
await buildDashboard(path.join(root, 'dist', 'ui'))
