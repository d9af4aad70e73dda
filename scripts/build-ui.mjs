// Bundles the dashboard (ui/) into <outdir>/index.html and <outdir>/assets/<name>-<hash>.<ext>:
// one script and one stylesheet, minified, with content-hashed names so the gateway can serve them
// as immutable. The index names them; it has no inline script or style (the CSP forbids both).
import { build } from 'esbuild'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')

/** Builds the dashboard into outdir (replaced); returns the asset names by kind. */
export async function buildDashboard(outdir) {
  fs.rmSync(outdir, { recursive: true, force: true })
  const assets = path.join(outdir, 'assets')
  const result = await build({
    entryPoints: [path.join(root, 'ui', 'src', 'main.ts')],
    bundle: true,
    outdir: assets,
    entryNames: 'app-[hash]',
    assetNames: '[name]-[hash]',
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  })
  const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f))
  const js = outputs.find((f) => f.endsWith('.js'))
  const css = outputs.find((f) => f.endsWith('.css'))
  if (!js || !css) throw new Error(`dashboard build: expected a .js and a .css, got ${outputs.join(', ')}`)
  const icon = fs.readFileSync(path.join(root, 'ui', 'icon.svg'))
  const iconName = `icon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`
  fs.writeFileSync(path.join(assets, iconName), icon)
  const html = fs.readFileSync(path.join(root, 'ui', 'index.html'), 'utf8')
    .replace('{{css}}', `/ui/assets/${css}`)
    .replace('{{js}}', `/ui/assets/${js}`)
    .replace('{{icon}}', `/ui/assets/${iconName}`)
  fs.writeFileSync(path.join(outdir, 'index.html'), html)
  return { js, css, icon: iconName }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await buildDashboard(process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'dist', 'ui'))
}
