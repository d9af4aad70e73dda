// README's error table, made from the one error table (isolation/errors.ts) so that the two never
// disagree. `node --import tsx scripts/errors-table.ts --write` rewrites the rows between the
// markers; without --write it exits 1 when README.md is out of date (test/runtime/errors-config.test.ts
// runs the same check).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ERRORS } from '../isolation/errors.js'

export const BEGIN = '<!-- errors:begin -->'
export const END = '<!-- errors:end -->'
export const WRITE_COMMAND = 'node --import tsx scripts/errors-table.ts --write'
export const README = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md')

/** A hint as Markdown table text: "|" would end the cell, "<data dir>" would be read as HTML. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;')
}

/** The lines between the markers: a header and one row per code, in table order. */
export function errorsTable(): string {
  const rows = Object.entries(ERRORS).map(([code, e]) => `| \`${code}\` | ${e.status} | ${cell(e.hint)} |`)
  return ['| Code | Status | What to do |', '| --- | --- | --- |', ...rows].join('\n')
}

/** README with the table between the markers replaced by the current one; throws without markers. */
export function withErrorsTable(readme: string): string {
  const b = readme.indexOf(BEGIN)
  const e = readme.indexOf(END)
  if (b < 0 || e < b) throw new Error(`README.md has no ${BEGIN} ... ${END} block`)
  return `${readme.slice(0, b + BEGIN.length)}\n${errorsTable()}\n${readme.slice(e)}`
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const readme = fs.readFileSync(README, 'utf8')
  const next = withErrorsTable(readme)
  if (process.argv.includes('--write')) {
    if (next !== readme) fs.writeFileSync(README, next)
    process.stdout.write(next === readme ? 'README.md error table is up to date\n' : 'README.md error table rewritten\n')
  } else if (next !== readme) {
    process.stderr.write(`README.md's error table is out of date; run: ${WRITE_COMMAND}\n`)
    process.exitCode = 1
  }
}
