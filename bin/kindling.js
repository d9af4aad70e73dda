#!/usr/bin/env node
// The kindling command: runs the built CLI from dist/ (npm install builds it), or the TypeScript
// sources through tsx when dist/ is missing.
import { existsSync } from 'node:fs'

const built = new URL('../dist/runtime/cli/main.js', import.meta.url)
if (existsSync(built)) {
  await import(built.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../runtime/cli/main.ts', import.meta.url).href)
}
