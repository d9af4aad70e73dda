// A small HTTP server in a child process, for tests of code that blocks the test's own thread
// (a synchronous wasm call waiting on outbound HTTP). Routes:
//   /hello            200 "hello from target"
//   /redirect?to=URL  302 to URL
//   /big?n=N          200 with N bytes
//   /slow             never answers (until the client goes)
//   /headers          200 with the request's headers as JSON
import { type ChildProcess, spawn } from 'node:child_process'

const SCRIPT = `
const http = require('node:http')
const s = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x')
  if (u.pathname === '/hello') return res.end('hello from target')
  if (u.pathname === '/redirect') { res.writeHead(302, { location: u.searchParams.get('to') }); return res.end() }
  if (u.pathname === '/big') return res.end(Buffer.alloc(Number(u.searchParams.get('n')), 97))
  if (u.pathname === '/slow') return
  if (u.pathname === '/headers') return res.end(JSON.stringify(req.headers))
  res.writeHead(404); res.end()
})
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'))
process.stdin.on('end', () => process.exit(0)); process.stdin.resume()
`

export interface TargetServer {
  port: number
  origin: string
  stop(): Promise<void>
}

export async function startTargetServer(): Promise<TargetServer> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
    child.once('exit', () => reject(new Error('the target server exited')))
  })
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((res) => {
      if (child.exitCode !== null) return res()
      child.once('exit', () => res())
      child.kill('SIGKILL')
    }),
  }
}
