// The CLI as a new user meets it, against a real gateway process (and, for streaming, a loopback
// HTTP server that answers in parts): the stack's provider.gateway, describe and list (--json),
// logs -f, invoke streaming both ways, top, shell completion, and errors that say what to do next.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, spawnCli, waitFor } from '../../helpers/cli.js'
import { exampleModule, tempDataDir } from '../../helpers/kindling.js'
import { type ServerProcess, startServerProcess } from '../../helpers/server-process.js'
import { describeText } from '../../../runtime/cli/commands.js'
import { parseLatencyBuckets, quantileOf, topTable } from '../../../runtime/cli/top.js'

describe('kindling CLI polish', () => {
  let dataDir: string
  let work: string
  let srv: ServerProcess
  before(async () => {
    dataDir = tempDataDir()
    work = tempDataDir('kindling-cli-')
    srv = await startServerProcess(dataDir)
  })
  after(async () => {
    await srv.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
    fs.rmSync(work, { recursive: true, force: true })
  })

  const writeStack = (file: string, gateway: string, fn = 'echo-stack') => {
    fs.copyFileSync(exampleModule('echo'), path.join(work, 'echo.wasm'))
    fs.writeFileSync(file, `version: 1.0\nprovider:\n  name: openfaas\n  gateway: ${gateway}\nfunctions:\n  ${fn}:\n    image: ./echo.wasm\n`)
    return file
  }

  it('deploy -f uses the stack\'s provider.gateway unless --gateway or OPENFAAS_URL names one (faas-cli\'s order)', () => {
    // neither --gateway nor OPENFAAS_URL: provider.gateway (before the fix: the default port, refused)
    const stack = writeStack(path.join(work, 'stack.yml'), srv.url)
    const r = runCli(['deploy', '-f', stack, '--data-dir', dataDir])
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, new RegExp(`Deployed echo-stack .*${srv.url.replace(/\./g, '\\.')}/function/echo-stack`))
    // OPENFAAS_URL comes before provider.gateway, --gateway before both
    const wrong = writeStack(path.join(work, 'wrong.yml'), 'http://127.0.0.1:9', 'echo-env')
    const env = runCli(['deploy', '-f', wrong, '--data-dir', dataDir], { env: { OPENFAAS_URL: srv.url } })
    assert.equal(env.code, 0, env.err)
    const flagged = runCli(['deploy', '-f', wrong, '--data-dir', dataDir, '--gateway', srv.url], { env: { OPENFAAS_URL: 'http://127.0.0.1:9' } })
    assert.equal(flagged.code, 0, flagged.err)
    const down = runCli(['deploy', '-f', wrong, '--data-dir', dataDir])
    assert.equal(down.code, 1)
    assert.match(down.err, /cannot reach the kindling gateway at http:\/\/127\.0\.0\.1:9 .*--gateway URL or OPENFAAS_URL/)
  })

  it('describe prints a readable summary; list and describe print JSON with --json', async () => {
    const d = runCli(['describe', 'echo-stack', '--gateway', srv.url, '--data-dir', dataDir])
    assert.equal(d.code, 0, d.err)
    assert.match(d.out, /^Name:\s+echo-stack\n/)
    assert.match(d.out, /\nStatus:\s+(Ready|Starting)\n/)
    assert.match(d.out, /\nImage:\s+wasm:sha256:[0-9a-f]{64}\n/)
    assert.match(d.out, /\nTier:\s+wasm\n/)
    assert.match(d.out, /\nSandboxes:\s+\d+ warm \(\d+ idle, \d+ busy\), \d+ starting\n/)
    assert.match(d.out, new RegExp(`\\nURL:\\s+${srv.url.replace(/\./g, '\\.')}/function/echo-stack\\n`))
    const j = JSON.parse(runCli(['describe', 'echo-stack', '--json', '--gateway', srv.url, '--data-dir', dataDir]).out)
    assert.equal(j.name, 'echo-stack')
    const list = JSON.parse(runCli(['list', '--json', '--gateway', srv.url, '--data-dir', dataDir]).out) as { name: string }[]
    assert.deepEqual(list.map((f) => f.name).sort(), ['echo-env', 'echo-stack'])
    const missing = runCli(['describe', 'nope', '--gateway', srv.url, '--data-dir', dataDir])
    assert.equal(missing.code, 1)
    assert.match(missing.err, /no function nope is deployed; "kindling list" shows what is/)
  })

  it('describe text keeps user labels and annotations and leaves out empty fields', () => {
    const text = describeText(
      { name: 'f', namespace: 'openfaas-fn', image: 'img', replicas: 0, availableReplicas: 0, labels: { team: 'a' }, annotations: { 'com.kindling.tier': 'thread', note: 'x' } },
      'http://g',
    )
    assert.match(text, /Status:\s+Scaled to zero/)
    assert.match(text, /Labels:\s+team=a\n/)
    assert.match(text, /Annotations:\s+note=x\n/)
    assert.doesNotMatch(text, /Secrets|Environment/)
  })

  it('logs -f follows: lines logged after it started are printed as they come', async () => {
    const dep = runCli(['deploy', exampleModule('read-secret'), '--name', 'talker', '--gateway', srv.url, '--data-dir', dataDir])
    assert.equal(dep.code, 0, dep.err)
    const logs = spawnCli(['logs', 'talker', '-f', '--gateway', srv.url, '--data-dir', dataDir])
    try {
      // the follow stream is open once the gateway answers; a call now logs its stderr
      for (let i = 0; i < 2; i++) await (await fetch(`${srv.url}/function/talker`)).arrayBuffer()
      await waitFor(() => (logs.output().match(/usage: \?<secret name>/g) ?? []).length >= 2, `two followed log lines (got: ${logs.output()}${logs.errors()})`)
      assert.equal(logs.exitCode, null, 'still following')
      const more = fetch(`${srv.url}/function/talker`).then((r) => r.arrayBuffer())
      await more
      await waitFor(() => (logs.output().match(/usage: \?<secret name>/g) ?? []).length >= 3, 'a third line')
    } finally {
      logs.kill()
    }
  })

  it('invoke streams: the body goes out as stdin gives it, and the answer is printed as it arrives', async () => {
    // a gateway stand-in that answers in two parts: the second only after the CLI printed the first
    let secondPart: (() => void) | undefined
    const fake = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      req.once('data', (chunk: Buffer) => {
        res.write(`got ${chunk.toString()}\n`)
        secondPart = () => {
          req.resume()
          req.on('end', () => res.end('done\n'))
        }
      })
    })
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`
    const inv = spawnCli(['invoke', 'anything', '--gateway', url])
    try {
      inv.stdin!.write('first')
      // before the fix the CLI read all of stdin first and printed nothing until the end
      await waitFor(() => inv.output() === 'got first\n', `the first part (got ${JSON.stringify(inv.output())} ${inv.errors()})`)
      assert.ok(secondPart)
      secondPart()
      inv.stdin!.end('second')
      const code = await new Promise<number | null>((r) => (inv.exitCode !== null ? r(inv.exitCode) : inv.once('exit', r)))
      assert.equal(code, 0, inv.errors())
      assert.equal(inv.output(), 'got first\ndone\n')
    } finally {
      inv.kill()
      fake.close()
    }
  })

  it('top --once prints the table of functions with calls and warm sandboxes', async () => {
    for (let i = 0; i < 3; i++) await (await fetch(`${srv.url}/function/echo-stack`, { method: 'POST', body: 'x' })).arrayBuffer()
    const r = runCli(['top', '--once', '--interval', '0.2', '--gateway', srv.url, '--data-dir', dataDir])
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, /FUNCTION\s+RPS\s+P50\s+P99\s+WARM\s+BUSY\s+CALLS\s+TIER/)
    assert.match(r.out, /\necho-stack\s+[\d.]+\s+\S+\s+\S+\s+\d+\s+\d+\s+3\s+wasm\n/)
    const bad = runCli(['top', '--interval', 'soon', '--gateway', srv.url])
    assert.match(bad.err, /--interval soon: give seconds, more than 0/)
  })

  it('top computes rps and p99 from two samples of the API', () => {
    const metrics = (n1: number, n2: number, n3: number) =>
      [
        '# TYPE gateway_functions_seconds histogram',
        `gateway_functions_seconds_bucket{le="0.01",function_name="f.openfaas-fn",code="200"} ${n1}`,
        `gateway_functions_seconds_bucket{le="0.1",function_name="f.openfaas-fn",code="200"} ${n2}`,
        `gateway_functions_seconds_bucket{le="+Inf",function_name="f.openfaas-fn",code="200"} ${n3}`,
        'gateway_functions_seconds_bucket{le="0.01",function_name="f.openfaas-fn",code="500"} 0',
        'gateway_functions_seconds_bucket{le="0.1",function_name="f.openfaas-fn",code="500"} 0',
        'gateway_functions_seconds_bucket{le="+Inf",function_name="f.openfaas-fn",code="500"} 2',
      ].join('\n')
    const a = parseLatencyBuckets(metrics(10, 10, 10)).get('f.openfaas-fn')
    const b = parseLatencyBuckets(metrics(150, 199, 200)).get('f.openfaas-fn')
    assert.equal(b?.get(Infinity), 202)
    assert.equal(quantileOf(b, a, 0.5), 0.01)
    assert.equal(quantileOf(b, a, 0.99), 0.1)
    assert.equal(quantileOf(a, a, 0.99), undefined, 'no calls in between: no p99')
    const fn = (calls: number) => ({ name: 'f', namespace: 'openfaas-fn', invocationCount: calls, annotations: { 'com.kindling.sandboxes.warm': '3', 'com.kindling.sandboxes.busy': '1', 'com.kindling.tier': 'wasm' } })
    const rows = topTable({ at: 0, functions: [fn(12)], buckets: new Map([['f.openfaas-fn', a!]]) }, { at: 2000, functions: [fn(212)], buckets: new Map([['f.openfaas-fn', b!]]) })
    assert.deepEqual(rows, [['f', '100.0', '10ms', '100ms', '3', '1', '212', 'wasm']])
  })

  it('completion bash completes commands, flags, --lang values and function names', () => {
    const script = runCli(['completion', 'bash']).out
    const complete = (words: string[]) => {
      const r = spawnSync('bash', ['-c', `${script}\nkindling() { echo '[\n  {\n    "name": "echo-stack",\n    "image": "x"\n  }\n]'; }\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kindling; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      return r.stdout.trim()
    }
    assert.equal(complete(['kindling', 'de']), 'deploy describe')
    assert.equal(complete(['kindling', 'new', 'x', '--lang', 'a']), 'assemblyscript')
    assert.equal(complete(['kindling', 'logs', '--fo']), '--follow')
    assert.equal(complete(['kindling', 'invoke', 'ec']), 'echo-stack')
    const zsh = runCli(['completion', 'zsh']).out
    assert.match(zsh, /^#compdef kindling\n/)
    assert.match(zsh, /compdef _kindling kindling\n$/)
    const none = runCli(['completion', 'fish'])
    assert.equal(none.code, 1)
    assert.match(none.err, /usage: kindling completion bash\|zsh; then eval/)
  })

  it('every error says what to do next', () => {
    const unknown = runCli(['frobnicate'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.err, /unknown command frobnicate; the commands are below/)
    const flagValue = runCli(['invoke', 'x', '--data'])
    assert.match(flagValue.err, /--data needs a value\. "kindling help" shows the commands and their flags\./)
    const notFound = runCli(['invoke', 'nope', '--data', 'x', '--gateway', srv.url])
    assert.equal(notFound.code, 1)
    assert.match(notFound.err, /HTTP 404 \(KINDLING_ERR_FUNCTION_NOT_FOUND\)\. "kindling list" shows what is deployed/)
    const noBuild = path.join(work, 'nobuild.yml')
    fs.writeFileSync(noBuild, 'version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n  later:\n    lang: c\n    handler: ./later\n    image: ./later/build/later.wasm\n')
    const dep = runCli(['deploy', '-f', noBuild, '--gateway', srv.url, '--data-dir', dataDir])
    assert.match(dep.err, /later\.wasm does not exist: run "kindling build -f .*nobuild\.yml later" first \(or "kindling up -f/)
  })

  it('deploy and remove take ./stack.yml (and its gateway) when nothing else is named', () => {
    // work/stack.yml names the gateway and echo-stack (first test)
    const rm = runCli(['remove', '--data-dir', dataDir], { cwd: work })
    assert.equal(rm.code, 0, rm.err)
    assert.equal(rm.out, 'Removed echo-stack.\n')
    const dep = runCli(['deploy', '--data-dir', dataDir], { cwd: work })
    assert.equal(dep.code, 0, dep.err)
    assert.match(dep.out, /^Deployed echo-stack /)
    assert.equal(runCli(['remove', '--data-dir', dataDir], { cwd: work }).out, 'Removed echo-stack.\n')
    const again = runCli(['remove', '--data-dir', dataDir], { cwd: work })
    assert.equal(again.code, 0, again.err)
    assert.equal(again.out, 'echo-stack is not deployed.\n')
  })
})
