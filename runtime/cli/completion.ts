// `kindling completion bash|zsh`: prints a completion script. Commands, their flags and the values
// of --lang and --isolation complete from the lists below; function names complete by asking the
// gateway (`kindling list --json`), so they follow whatever is deployed.
import { type ParsedArgs } from './args.js'
import { LANGS } from './build.js'
import { CliError } from './client.js'

/** Each command and its flags (what completion offers after it). */
export const COMMAND_FLAGS: Record<string, string[]> = {
  serve: ['--host', '--port', '--data-dir'],
  new: ['--lang', '--file', '--gateway'],
  build: ['--file', '--filter', '--no-cache'],
  up: ['--file', '--filter', '--force', '--no-cache', '--gateway'],
  deploy: ['--file', '--filter', '--name', '--image', '--label', '--env', '--isolation', '--app', '--memory', '--cpu', '--secret', '--namespace', '--fprocess', '--annotation', '--gateway'],
  invoke: ['--data', '--header', '--method', '--query', '--async', '--content-type', '--namespace', '--gateway'],
  list: ['--json', '--namespace', '--gateway'],
  describe: ['--json', '--namespace', '--gateway'],
  remove: ['--file', '--filter', '--namespace', '--gateway'],
  logs: ['--follow', '--tail', '--since', '--namespace', '--gateway'],
  top: ['--interval', '--once', '--gateway'],
  usage: ['--since', '--namespace', '--json', '--gateway'],
  kv: ['--namespace', '--prefix', '--limit', '--cursor', '--data', '--ttl-ms', '--json', '--gateway'],
  completion: [],
  image: [],
  help: [],
}

/** commands whose first argument is a deployed function */
const TAKES_FUNCTION = ['invoke', 'describe', 'remove', 'logs']
const TIERS = ['inline', 'wasm', 'thread', 'process', 'container']

function bash(): string {
  const cases = Object.entries(COMMAND_FLAGS)
    .map(([c, f]) => `    ${c}) flags="${f.join(' ')}" ;;`)
    .join('\n')
  return `# kindling bash completion: eval "$(kindling completion bash)" (e.g. in ~/.bashrc)
_kindling() {
  local cur prev cmd flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${Object.keys(COMMAND_FLAGS).join(' ')}" -- "$cur") )
    return
  fi
  case "$prev" in
    --lang) COMPREPLY=( $(compgen -W "${LANGS.join(' ')}" -- "$cur") ); return ;;
    --isolation) COMPREPLY=( $(compgen -W "${TIERS.join(' ')}" -- "$cur") ); return ;;
    -f|--file) COMPREPLY=( $(compgen -f -X '!*.y*ml' -- "$cur") $(compgen -d -- "$cur") ); return ;;
    completion) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ); return ;;
  esac
  case "$cmd" in
${cases}
    *) flags="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [[ " ${TAKES_FUNCTION.join(' ')} " == *" $cmd "* ]]; then
    COMPREPLY=( $(compgen -W "$(kindling list --json 2>/dev/null | sed -n 's/^    "name": "\\(.*\\)",$/\\1/p')" -- "$cur") )
  elif [ "$cmd" = deploy ]; then
    COMPREPLY=( $(compgen -f -X '!*.wasm' -- "$cur") $(compgen -d -- "$cur") )
  fi
}
complete -F _kindling kindling
`
}

function zsh(): string {
  const cases = Object.entries(COMMAND_FLAGS)
    .map(([c, f]) => `    ${c}) flags=(${f.join(' ')}) ;;`)
    .join('\n')
  return `#compdef kindling
# kindling zsh completion: eval "$(kindling completion zsh)" (after compinit), or save it as _kindling in $fpath
_kindling() {
  local -a commands flags
  commands=(${Object.keys(COMMAND_FLAGS).join(' ')})
  if (( CURRENT == 2 )); then
    compadd -a commands
    return
  fi
  case "\${words[CURRENT-1]}" in
    --lang) compadd ${LANGS.join(' ')}; return ;;
    --isolation) compadd ${TIERS.join(' ')}; return ;;
    -f|--file) _files -g '*.y(a|)ml'; return ;;
    completion) compadd bash zsh; return ;;
  esac
  case "\${words[2]}" in
${cases}
    *) flags=() ;;
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then
    compadd -a flags
  elif (( CURRENT == 3 )) && [[ " ${TAKES_FUNCTION.join(' ')} " == *" \${words[2]} "* ]]; then
    compadd \${(f)"$(kindling list --json 2>/dev/null | sed -n 's/^    "name": "\\(.*\\)",$/\\1/p')"}
  elif [[ "\${words[2]}" == deploy ]]; then
    _files -g '*.wasm'
  fi
}
compdef _kindling kindling
`
}

export async function completionCommand(args: ParsedArgs): Promise<number> {
  const shell = args.positionals[0]
  if (shell === 'bash') process.stdout.write(bash())
  else if (shell === 'zsh') process.stdout.write(zsh())
  else throw new CliError('usage: kindling completion bash|zsh; then eval "$(kindling completion bash)" in ~/.bashrc (or zsh in ~/.zshrc, after compinit)')
  return 0
}
