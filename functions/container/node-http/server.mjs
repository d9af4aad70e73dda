// An HTTP-mode (of-watchdog "http") function for kindling's container tier: a long-running Node
// server. It listens on the Unix socket kindling passes in KINDLING_HTTP_SOCKET, or, as OpenFaaS
// templates do, on TCP http_port (default 8080) when deployed with upstream_url.
//
// Routes (for the examples, tests and benchmarks):
//   any        echo: JSON with method, path, query, body length, the body upper-cased, pid, calls so far
//   /env       the environment
//   /secret?name=N   the value of /var/openfaas/secrets/N
//   /sleep?ms=N      answer after N ms
//   /alloc?mb=N      allocate and touch N MiB (kept), to show the memory limit
//   /crash           exit with status 3 (the container dies; kindling replaces it)
import fs from 'node:fs'
import http from 'node:http'

let calls = 0
const kept = []

const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    calls++
    const url = new URL(req.url ?? '/', 'http://function')
    const body = Buffer.concat(chunks)
    const json = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(value) + '\n')
    }
    switch (url.pathname) {
      case '/env':
        return json(200, process.env)
      case '/secret': {
        const name = url.searchParams.get('name') ?? ''
        try {
          return json(200, { name, value: fs.readFileSync(`/var/openfaas/secrets/${name}`, 'utf8') })
        } catch (e) {
          return json(404, { name, error: String(e) })
        }
      }
      case '/sleep':
        return setTimeout(() => json(200, { slept: Number(url.searchParams.get('ms') ?? 0) }), Number(url.searchParams.get('ms') ?? 0))
      case '/alloc': {
        const mb = Number(url.searchParams.get('mb') ?? 0)
        for (let i = 0; i < mb; i++) kept.push(Buffer.alloc(1 << 20, 1))
        return json(200, { allocatedMiB: mb })
      }
      case '/crash':
        console.error('crashing on request')
        return process.exit(3)
      default:
        return json(200, {
          method: req.method,
          path: url.pathname,
          query: url.search.slice(1),
          length: body.length,
          upper: body.toString().toUpperCase(),
          pid: process.pid,
          calls,
        })
    }
  })
})

// Node as PID 1 ignores SIGTERM unless it handles it
process.on('SIGTERM', () => server.close(() => process.exit(0)))

const where = process.env.KINDLING_HTTP_SOCKET ?? Number(process.env.http_port ?? process.env.PORT ?? 8080)
server.listen(where, () => console.log(`listening on ${where}`))
