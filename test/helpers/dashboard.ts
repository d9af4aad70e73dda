// The dashboard built into a temporary dir (tests do not depend on dist/), and a small benchmark run
// record like the ones bench/run.ts writes, for the bench page and GET /system/bench.
import fs from 'node:fs'
import path from 'node:path'
import { buildDashboard } from '../../scripts/build-ui.mjs'
import { tempDataDir } from './kindling.js'

export async function builtDashboard(): Promise<{ dir: string; assets: { js: string; css: string; icon: string } }> {
  const dir = tempDataDir('kindling-ui-')
  const assets = await buildDashboard(dir)
  return { dir, assets }
}

export function benchFixture(dir: string): void {
  const row = (group: string, name: string, unit: string, p50: number, extra: Record<string, unknown> = {}) => ({ group, name, unit, n: 10, p50, p99: p50 * 2, ...extra })
  const run = {
    kind: 'kindling-bench',
    version: 1,
    label: 'coldstart-quick',
    quick: true,
    seconds: 42,
    environment: { date: '2026-12-04T21:00:00.000Z', command: 'npm run bench -- --quick', cpu: { model: 'Test CPU', cores: 2 }, git: { commit: '0123456789abcdef' } },
    scopes: [
      {
        scope: 'coldstart',
        status: 'ok',
        rows: [
          row('floor', 'bare instantiate+call noop', 'us', 12),
          row('wasm / noop', 'instance-cold in-process', 'us', 40, { baseline: 'floor|bare instantiate+call noop', ratio: 3.3 }),
          row('wasm / noop', '  spawn (bench clock)', 'us', 30),
          row('thread / noop', 'new sandbox', 'ms', 1.5),
        ],
        targets: [{ id: 'wasm-noop-cold-inproc-2x', text: 'wasm / noop: instance-cold in-process p50 <= 2x bare', value: 3.3, limit: 2, unit: 'ratio', op: '<=', holds: false }],
      },
      { scope: 'peers', status: 'ok', rows: [row('echo, 1 conn', 'workerd', 'req/s', 9000), row('echo, 1 conn', 'kindling wasm', 'req/s', 7000)], targets: [] },
    ],
  }
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'coldstart-quick-latest.json'), JSON.stringify(run))
  // not a bench run record: skipped
  fs.writeFileSync(path.join(dir, 'faults-latest.json'), JSON.stringify({ kind: 'kindling-faults', rounds: 1 }))
  fs.writeFileSync(path.join(dir, 'broken-latest.json'), '{"kind": "kindling-bench", ')
}
