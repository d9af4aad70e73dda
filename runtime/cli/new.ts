// `kindling new NAME --lang LANG`: copies templates/<lang>/ into a folder NAME beside the stack
// file (the NAME placeholder, {{NAME}}, replaced) and adds the function to the stack file,
// creating it when there is none.
import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { REPO_ROOT } from '../version.js'
import { flag, type ParsedArgs } from './args.js'
import { isLang, LANGS } from './build.js'
import { CliError } from './client.js'

export const TEMPLATES_DIR = path.join(REPO_ROOT, 'templates')
const PLACEHOLDER = /\{\{NAME\}\}/g
/** a function name that is also a folder, a rustc crate name (after - to _) and a URL path segment */
const NAME = /^[a-z][a-z0-9-]{0,62}$/

export async function newCommand(args: ParsedArgs): Promise<number> {
  const name = args.positionals[0]
  const lang = flag(args, 'lang')
  if (!name || !lang) throw new CliError(`usage: kindling new NAME --lang ${LANGS.join('|')} [-f stack.yml]`)
  if (!NAME.test(name)) throw new CliError(`${name}: a function name starts with a lower-case letter and has lower-case letters, digits and "-" (at most 63); pick another`)
  if (!isLang(lang)) throw new CliError(`--lang ${lang}: kindling has templates for ${LANGS.join(', ')}`)
  const stackFile = path.resolve(flag(args, 'file') ?? 'stack.yml')
  const dir = path.join(path.dirname(stackFile), name)
  if (fs.existsSync(dir)) throw new CliError(`${dir} already exists; pick another name, or remove the folder first`)
  const doc = readOrCreateStack(stackFile, flag(args, 'gateway'))
  const functions = doc.get('functions') as YAML.YAMLMap | undefined
  if (functions?.has(name)) throw new CliError(`${stackFile} already has a function ${name}; pick another name`)

  const template = path.join(TEMPLATES_DIR, lang)
  fs.mkdirSync(dir, { recursive: true })
  for (const f of fs.readdirSync(template)) {
    fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(template, f), 'utf8').replace(PLACEHOLDER, name))
  }
  fs.writeFileSync(path.join(dir, '.gitignore'), 'build/\n')
  const entry = { lang, handler: `./${name}`, image: `./${name}/build/${name}.wasm` }
  if (functions) functions.set(name, doc.createNode(entry))
  else doc.set('functions', doc.createNode({ [name]: entry }))
  fs.writeFileSync(stackFile, doc.toString())

  const rel = path.relative(process.cwd(), stackFile) || stackFile
  const files = fs.readdirSync(dir).filter((f) => f !== '.gitignore')
  process.stdout.write(
    `Wrote ${path.relative(process.cwd(), dir) || dir}/ (${files.join(', ')}) and added ${name} to ${rel}.\n` +
      `Next: edit ${path.join(path.relative(process.cwd(), dir), files.find((f) => f.startsWith('handler')) ?? '')}, then\n` +
      `  kindling up -f ${rel}     # build and deploy\n` +
      `  kindling invoke ${name} --data hello\n`,
  )
  return 0
}

function readOrCreateStack(file: string, gateway: string | undefined): YAML.Document {
  if (fs.existsSync(file)) {
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'))
    if (doc.errors.length) throw new CliError(`${file} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it or give another file with -f`)
    return doc
  }
  return new YAML.Document({ version: '1.0', provider: { name: 'openfaas', gateway: gateway ?? 'http://127.0.0.1:8080' } })
}
